"""The Slack-facing application: settings, Bolt app, HTTP server, rendering, CLI."""
