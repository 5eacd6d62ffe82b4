"""The HTTP endpoints of the API, their request and response schemas and error handlers."""
