"""Domain errors raised by the service layer; the api layer turns each into one problem+json response."""


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, detail: str, *, code: str | None = None, status: int | None = None,
                 errors: dict | None = None, headers: dict | None = None, **extra):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        if status:
            self.status = status
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


class BadRequest(ServiceError):
    status, code = 400, "bad_request"


class Unauthorized(ServiceError):
    status, code = 401, "unauthorized"


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class NotFound(ServiceError):
    status, code = 404, "not_found"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class PreconditionFailed(ServiceError):
    status, code = 412, "version_mismatch"


class ValidationFailed(ServiceError):
    status, code = 422, "validation_error"

    def __init__(self, errors: dict, detail: str | None = None, **kw):
        first = next(iter(errors.values()))
        first = first[0] if isinstance(first, list) else first
        super().__init__(detail or str(first), errors=errors, **kw)


class RateLimited(ServiceError):
    status, code = 429, "rate_limited"
