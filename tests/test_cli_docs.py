"""Every `sealer-fsm ...` command line quoted in README.md and docs/*.md is one the CLI accepts, and `make run`
writes where `sealer-fsm ... -c machines/devnet.toml` reads."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from sealer_fsm.cli import build_parser
from sealer_fsm.config import load_machine_file

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "docs").glob("*/*.md"))]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
SPAN = re.compile(r"`([^`\n]+)`")
# A word that stands for a value in a synopsis: `-i N`, `-c MACHINE.toml`, `PATH...`, `CID:SIZE...`.
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*(\.\w+)?(:[A-Z]+)?(\.\.\.)?$|^<[^>]+>$")


def quoted_commands(text: str) -> list[str]:
    """Each `sealer-fsm ...` of a code block or a code span, cut at the shell's own syntax. In a code block a
    command ends with its line (a trailing backslash continues it), or, quoted in backticks within the block (an
    error message that names the command to run), at the closing backtick."""
    commands = []
    for block in FENCE.findall(text):
        block = block.replace("\\\n", " ")
        commands += re.findall(r"`(sealer-fsm[^`]*)`", block)
        commands += [line for line in re.sub(r"`sealer-fsm[^`]*`", "", block).splitlines()]
    commands += SPAN.findall(FENCE.sub("", text))
    found = []
    for piece in commands:
        piece = " ".join(piece.replace("\\|", "|").split())
        for match in re.finditer(r"\bsealer-fsm( [^;#]*)?", piece):
            found.append(re.split(r" \| (?=head|grep|jq|less)|;|&&|\s#", match.group(0))[0].strip())
    return found


def subcommand_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def walk(words: list[str], start: list[str]) -> tuple[argparse.ArgumentParser, list[str], list[str]]:
    """The deepest parser `start` + the leading words name, its path of subcommands, and the words left."""
    parser, path, words = build_parser(), [], [*start, *words]
    while words and words[0] in subcommand_parsers(parser):
        parser = subcommand_parsers(parser)[words[0]]
        path.append(words.pop(0))
    return parser, path, words


def top_level_alternatives(text: str) -> list[str]:
    """`list | pause -i N [--now | --later]` → ["list", "pause -i N [--now | --later]"]; `(a | b)` groups too."""
    alternatives, depth, current = [], 0, ""
    for char in text:
        depth += {"[": 1, "]": -1, "(": 1, ")": -1}.get(char, 0)
        if char == "|" and depth == 0:
            alternatives.append(current)
            current = ""
        else:
            current += char
    return [*alternatives, current]


def check_synopsis(command: str) -> None:
    """Each alternative names a subcommand (of the first one's group) whose options all exist; other words are
    values, but never an unknown subcommand."""
    alternatives = top_level_alternatives(command.removeprefix("sealer-fsm"))
    group: list[str] = []
    for number, alternative in enumerate(alternatives):
        words = re.sub(r"[][()|]", " ", alternative).split()
        parser, path, rest = walk(words, group if number else [])
        if number == 0:
            group = path[:-1]
        options = {option for action in parser._actions for option in action.option_strings}
        if rest and subcommand_parsers(parser):
            assert rest[0] == "...", f"{' '.join(path)} has no subcommand {rest[0]!r} (quoted: {command!r})"
        for word in rest:
            if word.startswith("-") and word != "-":
                assert word.split("=")[0] in options, f"{' '.join(path)} has no option {word} (quoted: {command!r})"


def check_command(command: str) -> None:
    """A command as an operator would type it: the parser accepts it whole (a bare subcommand name in the text,
    `sealer-fsm worker resume`, only needs to exist)."""
    words = ["1" if word.startswith("$") else word for word in shlex.split(command)[1:]]
    _, path, rest = walk(list(words), [])
    if not rest:
        assert path == words, f"unknown subcommand in {command!r}"
        return
    try:
        build_parser().parse_args(words)
    except SystemExit as error:
        raise AssertionError(f"the CLI refuses {command!r}") from error


def is_synopsis(command: str) -> bool:
    words = command.split()[1:]
    marks = ("[", "|", "...", "…", "(")
    return any(mark in command for mark in marks) or any(PLACEHOLDER.match(word) for word in words)


def cases() -> list[tuple[str, str]]:
    found = []
    for document in DOCUMENTS:
        for command in quoted_commands(document.read_text()):
            found.append((document.relative_to(REPO).as_posix(), command))
    return found


def test_the_docs_quote_many_commands() -> None:
    assert len(cases()) > 40


@pytest.mark.parametrize(("document", "command"), cases())
def test_a_quoted_command_line_parses(document: str, command: str) -> None:
    try:
        check_command(command)
    except AssertionError:
        if not is_synopsis(command):
            raise
        check_synopsis(command)


def test_the_checks_catch_a_wrong_option_or_subcommand() -> None:
    for bad in ("sealer-fsm worker list | pause -i N [--later]", "sealer-fsm sectors show SECTOR [--home DIR]"):
        with pytest.raises(AssertionError):
            check_synopsis(bad)
    for bad in ("sealer-fsm worker resume -i 3 --state-name PC1Done", "sealer-fsm run --sectors 8"):
        with pytest.raises(AssertionError):
            check_command(bad)


# Commands whose output is a file, a live view or a UI, not text a script reads.
# (`processor` is the worker's child process for a stage, speaking a protocol on its pipes.)
NOT_PARSED = {("run",), ("tui",), ("plan", "diagram"), ("processor",)}


def leaf_commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    children = subcommand_parsers(parser)
    if not children:
        return [path]
    return [leaf for name, child in children.items() for leaf in leaf_commands(child, (*path, name))]


@pytest.mark.parametrize("path", leaf_commands(build_parser()), ids=" ".join)
def test_every_command_a_script_would_parse_takes_json(path: tuple[str, ...]) -> None:
    """What the README promises."""
    parser, _, _ = walk(list(path), [])
    options = {option for action in parser._actions for option in action.option_strings}
    assert ("--json" in options) != (path in NOT_PARSED), path


def test_make_run_writes_where_the_machine_file_reads() -> None:
    makefile = (REPO / "Makefile").read_text()
    home = re.search(r"^HOME_DIR \?= (\S+)$", makefile, re.M).group(1)
    run = re.search(r"^\t\$\(BIN\)/sealer-fsm (run .*)$", makefile, re.M).group(1).replace("$(HOME_DIR)", home)
    arguments = build_parser().parse_args(shlex.split(run))
    written = Path(arguments.home) if arguments.home else load_machine_file(arguments.config).home
    assert written == load_machine_file(REPO / "machines" / "devnet.toml").home
