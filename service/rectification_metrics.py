"""差评整改率, 按期整改率, 回访率 and 整改满意度 grouped like the rating metrics (filled by the rectification engine)."""


def by_group(group_by, rating_keys, rating_filter, key_of) -> dict:
    # Until rectification items exist there is nothing to count: every rate is null (undefined).
    return {}


def progress(halls, period) -> dict:
    """Items opened, closed, closed on time and overdue in a period (filled by the rectification engine)."""
    return {"opened": None, "closed": None, "on_time": None, "overdue": None}

# Public free-text columns of rectification items (full-text searchable in the open data file).
PUBLIC_TEXT_COLUMNS = ["measures"]


def public_items():
    """Rectification items for the open data file, without personal data (filled by the rectification engine)."""
    return iter(())
