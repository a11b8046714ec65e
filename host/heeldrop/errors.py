"""Errors meant for the user: printed as one line by the CLI, with an exit code."""


class UserError(Exception):
    def __init__(self, message, code=2):
        super().__init__(message)
        self.code = code
