TEXT = "Hello from Python and Redis"
