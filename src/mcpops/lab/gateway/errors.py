"""The HTTP error type: rendered as {"error": {"code", "message"}}."""


class ApiError(Exception):
    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self):
        return {"error": {"code": self.code, "message": self.message}}
