"""The journal's filtered reads as SQL: one ``SELECT`` built from optional filters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["select_all"]


def select_all(
    table: str,
    *,
    created_since: float | None = None,
    equal: Mapping[str, Any] | None = None,
    within: Mapping[str, Sequence[str] | None] | None = None,
) -> tuple[str, list[Any]]:
    """``(sql, params)`` selecting every column of ``table``'s rows, oldest (lowest id)
    first: created at or after ``created_since``, with each ``equal`` column equal to its
    value and each ``within`` column among its values. A filter whose value is None is left
    out (it means "any"). Column names come from the caller's code, never from users."""
    where: list[str] = []
    params: list[Any] = []
    if created_since is not None:
        where.append("created_at >= ?")
        params.append(created_since)
    for column, value in (equal or {}).items():
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    for column, values in (within or {}).items():
        if values is not None:
            where.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    sql = f"SELECT * FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + " ORDER BY id", params
