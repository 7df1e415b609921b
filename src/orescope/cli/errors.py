"""Turn expected failures into one line on stderr and a non-zero exit."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from orescope.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])
stderr = Console(stderr=True, soft_wrap=True)


def one_line_errors(command: F) -> F:
    """Bad input exits with code 2 and ``error: <file>: <reason>``, never a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except InputError as error:
            stderr.print(f"[red]error:[/red] {error}", highlight=False)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(map(str, first["loc"]))
            stderr.print(f"[red]error:[/red] {where}: {first['msg']}", highlight=False)
        raise typer.Exit(code=2)

    return wrapper  # type: ignore[return-value]
