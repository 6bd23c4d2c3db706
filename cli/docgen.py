"""Write docs/cli.md from the click help of every command: `python -m cli.docgen > docs/cli.md`.

Generated, so the reference can never drift from the code; a test can diff it.
"""

from __future__ import annotations

from collections.abc import Iterator

import click

from cli.main import cli, register

WIDTH = 100


def walk(cmd: click.Command, ctx: click.Context) -> Iterator[tuple[str, str]]:
    """(command path, help text) for ``cmd`` and every subcommand, in help order."""
    yield ctx.command_path, cmd.get_help(ctx)
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            yield from walk(sub, click.Context(sub, info_name=name, parent=ctx,
                                               terminal_width=WIDTH, max_content_width=WIDTH))


def render() -> str:
    register()
    root = click.Context(cli, info_name="budget-ledger", terminal_width=WIDTH,
                         max_content_width=WIDTH, help_option_names=["-h", "--help"])
    out = ["# Command reference", "",
           "Generated from the commands' own `--help` by `python -m cli.docgen > docs/cli.md`; "
           "do not edit by hand. Exit codes, JSON shapes and the amount syntax are in "
           "`docs/imports.md` and the CLI contract.", ""]
    sections = list(walk(cli, root))
    out += ["Commands:", ""]
    out += [f"- [`{path}`](#{path.replace(' ', '-')})" for path, _ in sections[1:]]
    out.append("")
    for path, text in sections:
        out += [f'<a id="{path.replace(" ", "-")}"></a>', "", f"## `{path}`", "", "```text",
                text.rstrip(), "```", ""]
    return "\n".join(out)


if __name__ == "__main__":
    click.echo(render(), nl=False)
