"""The HTTP API: FastAPI app factory, thin routers, error mapping (DESIGN §12)."""
