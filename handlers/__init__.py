"""One module per runbook action: parse, plan, execute (through gcp ports), render.

Decision logic only: nothing here imports Slack or the Google client libraries.
"""
