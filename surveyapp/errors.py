"""Errors the services raise; the CLI prints them as one line, the web shows them on the page."""


class SurveyError(Exception):
    """A request that cannot be carried out, with a message a person can act on."""


class NotFound(SurveyError):
    pass


class Conflict(SurveyError):
    pass


class RowError:
    """One bad row in an import file: its line, column and reason."""

    def __init__(self, line: int, column: str, reason: str):
        self.line, self.column, self.reason = line, column, reason

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.reason}"

    def as_dict(self) -> dict:
        return {"line": self.line, "column": self.column, "reason": self.reason}


class ImportRejected(SurveyError):
    """A file with at least one bad row; nothing from it was stored."""

    def __init__(self, filename: str, errors: list[RowError]):
        self.filename, self.errors = filename, errors
        super().__init__(f"{filename}: {len(errors)} bad row(s), nothing imported")
