"""The error the local Sheets API answers with: an HTTP status and Google's message."""

from __future__ import annotations


class ApiError(Exception):
    """A refused request: ``code`` is the HTTP status, ``message`` the text Google would send."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message
