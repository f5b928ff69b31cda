"""The web chat page in headless Chromium (Playwright), against a real gateway subprocess."""
