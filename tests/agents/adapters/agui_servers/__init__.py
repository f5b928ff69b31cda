"""Real AG-UI servers of two frameworks, each run as ``python -m ... PORT RECORD_FILE``.

Their models are the frameworks' own offline test models, scripted: the first
turn of a question calls the ``multiply`` tool, the next answers with its
result. Each model appends what it was given (the user prompts and earlier
answers it saw) to ``RECORD_FILE`` as one JSON line, so a test can check what
the upstream received.
"""
