"""Email: rendering (Jinja -> MJML -> HTML + text), message bytes, transport, queue."""
