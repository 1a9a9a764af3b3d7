"""One router per resource; every route is a thin call into a service from api.deps."""
