"""Before pact is first imported: no usage tracking, so no outbound connections."""

import os

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")
