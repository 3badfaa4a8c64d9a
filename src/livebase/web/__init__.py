"""The service (``livebase serve``): events API, webhooks, tracking, unsubscribe, dashboards.

Import FastAPI only inside the app factory: this package is imported by the CLI."""
