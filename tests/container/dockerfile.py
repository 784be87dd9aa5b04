"""Reads the repository's Dockerfile well enough for the container tests to check it.

Not a general Dockerfile parser: it knows what this project's Dockerfile uses (comments and
parser directives, `\\` line continuations, `<<'EOF'` heredocs, exec-form JSON arrays,
`KEY=value` ENV pairs, `FROM ... AS name` stages) and raises ValueError on anything else the
tests ask it to interpret, so a change in style fails loudly instead of being misread.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

_HEREDOC = re.compile(r"<<(-?)(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


@dataclass(frozen=True)
class Instruction:
    """One instruction: `RUN pip install ...` -> keyword `RUN`, arguments `pip install ...`."""

    keyword: str
    arguments: str
    line: int
    # (delimiter, body) of each `<<DELIMITER` heredoc, in order; a body ends with a newline.
    heredocs: tuple[tuple[str, str], ...] = ()

    def shell_script(self) -> str:
        """A shell-form RUN as BuildKit hands it to `/bin/sh -c`, heredocs included."""
        if self.keyword != "RUN" or self.arguments.startswith("["):
            raise ValueError(f"line {self.line}: not a shell-form RUN")
        return self.arguments + "".join(f"\n{body}{name}" for name, body in self.heredocs)


@dataclass(frozen=True)
class Stage:
    """The instructions from one FROM up to the next."""

    base: str
    name: str | None
    instructions: tuple[Instruction, ...] = field(default=())

    def all(self, keyword: str) -> list[Instruction]:
        return [item for item in self.instructions if item.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        """The ENV this stage sets, later instructions winning."""
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            values.update(env_pairs(instruction.arguments))
        return values

    def workdir(self) -> str:
        """The last absolute WORKDIR (relative ones are not used here)."""
        instruction = self.last("WORKDIR")
        if instruction is None:
            return "/"
        if not instruction.arguments.startswith("/"):
            raise ValueError(f"line {instruction.line}: relative WORKDIR is not supported")
        return instruction.arguments


@dataclass(frozen=True)
class Dockerfile:
    """The global ARGs (before the first FROM) and the stages, in order."""

    global_args: dict[str, str]
    stages: tuple[Stage, ...]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"no stage named {name!r}")


def parse_dockerfile(path: Path) -> Dockerfile:
    """Parses a Dockerfile into its global ARGs and stages."""
    instructions = _instructions(path.read_text(encoding="utf-8"))
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    current: list[Instruction] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            if stages:
                stages[-1] = Stage(stages[-1].base, stages[-1].name, tuple(current))
            words = instruction.arguments.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            if len(words) not in (1, 3) or any(word.startswith("--") for word in words):
                raise ValueError(f"line {instruction.line}: unsupported FROM {words}")
            stages.append(Stage(words[0], name))
            current = []
        elif not stages:
            if instruction.keyword != "ARG":
                raise ValueError(f"line {instruction.line}: only ARG may precede FROM")
            key, _, value = instruction.arguments.partition("=")
            global_args[key] = value
        else:
            current.append(instruction)
    if not stages:
        raise ValueError("no FROM instruction")
    stages[-1] = Stage(stages[-1].base, stages[-1].name, tuple(current))
    return Dockerfile(global_args, tuple(stages))


def _instructions(text: str) -> list[Instruction]:
    lines = text.splitlines()
    result: list[Instruction] = []
    index = 0
    while index < len(lines):
        stripped = lines[index].strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        start = index
        parts: list[str] = []
        while True:
            current = lines[index].strip()
            index += 1
            if parts and (not current or current.startswith("#")):
                continue  # blank and comment lines inside a continued instruction are dropped
            if current.endswith("\\"):
                parts.append(current[:-1].strip())
                if index >= len(lines):
                    raise ValueError(f"line {start + 1}: continuation at end of file")
                continue
            parts.append(current)
            break
        logical = " ".join(part for part in parts if part)
        keyword, _, arguments = logical.partition(" ")
        heredocs: list[tuple[str, str]] = []
        for match in _HEREDOC.finditer(arguments):
            strip_tabs, delimiter = match.group(1) == "-", match.group(3)
            body: list[str] = []
            while True:
                if index >= len(lines):
                    raise ValueError(f"line {start + 1}: heredoc {delimiter} is not closed")
                raw = lines[index]
                index += 1
                if (raw.lstrip("\t") if strip_tabs else raw) == delimiter:
                    break
                body.append(raw)
            heredocs.append((delimiter, "\n".join(body) + "\n"))
        result.append(Instruction(keyword.upper(), arguments.strip(), start + 1, tuple(heredocs)))
    return result


def exec_form(instruction: Instruction) -> list[str]:
    """The JSON array of an exec-form CMD/ENTRYPOINT/HEALTHCHECK CMD; shell form is refused."""
    arguments = instruction.arguments
    if instruction.keyword == "HEALTHCHECK":
        _, arguments = healthcheck_parts(instruction)
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError:
        value = None
    if not (isinstance(value, list) and value and all(isinstance(item, str) for item in value)):
        raise ValueError(f"line {instruction.line}: {instruction.keyword} is not in exec form")
    return value


def healthcheck_parts(instruction: Instruction) -> tuple[dict[str, str], str]:
    """`--interval=10s ... CMD [...]` -> ({"interval": "10s", ...}, "[...]")."""
    options: dict[str, str] = {}
    rest = instruction.arguments
    while rest.startswith("--"):
        option, _, rest = rest.partition(" ")
        key, _, value = option[2:].partition("=")
        options[key] = value
        rest = rest.lstrip()
    keyword, _, command = rest.partition(" ")
    if keyword.upper() != "CMD":
        raise ValueError(f"line {instruction.line}: HEALTHCHECK without CMD")
    return options, command.strip()


def env_pairs(arguments: str) -> dict[str, str]:
    """`A=1 B="two words"` -> {"A": "1", "B": "two words"}; `$` expansion is refused."""
    pairs: dict[str, str] = {}
    for word in shlex.split(arguments):
        key, equals, value = word.partition("=")
        if not equals:
            raise ValueError(f"ENV {arguments!r}: only the KEY=value form is supported")
        if "$" in value:
            raise ValueError(f"ENV {key}: variable expansion is not supported here")
        pairs[key] = value
    return pairs
