"""Thin FastAPI routers, one module per area; `engine.api.main.ROUTERS` mounts them."""
