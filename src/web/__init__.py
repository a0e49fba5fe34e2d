"""The driving side for people: Litestar app, controllers, Jinja templates and static files."""
