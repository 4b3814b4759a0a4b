"""Developer tools: model conversion and other one-off utilities (not imported by the app at startup)."""
