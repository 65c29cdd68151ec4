"""The hot path: forwards Anthropic API calls byte for byte and hands each exchange to the Tap.

Knows nothing about storage, the API or the TUI.
"""
