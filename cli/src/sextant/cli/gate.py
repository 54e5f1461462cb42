"""``sextant gate check``: a pipeline asks the gateway whether a SHA may go to an
environment, prints every rule's outcome and reason, and exits with the verdict.

Exit codes a CI step can branch on: 0 pass or warn (or a failed gate someone overrode),
1 fail (and any refusal of the call, as every command), 2 unknown — the facts the policy
needs (a build, the change request) have not arrived yet: retry, never ship."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import typer
from rich.console import Console
from rich.markup import escape

from sextant.cli.client import TOKEN, URL, Api, ApiProblem, _fail

gate_app = typer.Typer(help="Quality gates for CI/CD pipelines.")
out = Console(highlight=False, soft_wrap=True)

EXIT_CODES = {"pass": 0, "warn": 0, "fail": 1, "unknown": 2}
MARKS = {"pass": "[green]pass[/green]", "warn": "[yellow]warn[/yellow]"}
MARKS |= {"fail": "[red]FAIL[/red]", "unknown": "[magenta]unknown[/magenta]"}


def exit_code(evaluation: dict[str, Any]) -> int:
    """0 to let the pipeline go on, 1 to stop it, 2 to retry later."""
    if evaluation.get("override"):
        return 0
    return EXIT_CODES.get(str(evaluation.get("verdict")), 1)


def report(evaluation: dict[str, Any]) -> list[str]:
    """The lines a pipeline log shows: one per rule, the verdict, any override."""
    lines = []
    for rule in evaluation["rules"]:
        advisory = " (advisory)" if rule["enforcement"] == "warn" else ""
        facts = f"  [{', '.join(rule['facts'])}]" if rule["facts"] else ""
        lines.append(
            f"{MARKS.get(rule['outcome'], rule['outcome'])} {escape(rule['rule'])}{advisory}: "
            f"{escape(rule['reason'])}{escape(facts)}"
        )
    lines.append(
        f"verdict: {MARKS.get(evaluation['verdict'], evaluation['verdict'])} "
        f"(policy v{evaluation['policy_version']}, evaluation {evaluation['id']})"
    )
    if evaluation.get("override"):
        override = evaluation["override"]
        lines.append(
            f"[yellow]overridden[/yellow] by {escape(override['by'])}: {escape(override['reason'])}"
        )
    return lines


REPO = typer.Option(..., "--repo", help="the repository, e.g. octo-org/api")
ENV = typer.Option(..., "--env", help="the environment, e.g. production")
SHA = typer.Option(None, "--sha", help="the commit to gate")
CHANGE_REQUEST = typer.Option(
    None, "--change-request", help="or a change request's id (gated at its head)"
)
WORKSPACE = typer.Option(None, "--workspace", envvar="SEXTANT_WORKSPACE", help="the workspace's id")
VIEW = typer.Option(None, "--view", help="or a view's id (its policy applies)")


@gate_app.command("check")
def check(
    repo: str = REPO,
    env: str = ENV,
    sha: str | None = SHA,
    change_request: UUID | None = CHANGE_REQUEST,
    workspace: UUID | None = WORKSPACE,
    view: UUID | None = VIEW,
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Evaluate the gate for --sha (or --change-request) of --repo going to --env."""
    if (workspace is None) == (view is None):
        raise typer.BadParameter("give --workspace or --view, exactly one")
    if (sha is None) == (change_request is None):
        raise typer.BadParameter("give --sha or --change-request, exactly one")
    scope = f"workspace:{workspace}" if workspace is not None else f"view:{view}"
    body: dict[str, Any] = {"repository": repo, "environment": env}
    body |= {"sha": sha} if sha is not None else {"change_request": str(change_request)}
    api = Api.connect(url, token)
    try:
        reply = api.call("POST", "/v1/gates/evaluate", json=body, params={"scope": scope})
        evaluation: dict[str, Any] = reply.json()
        lines = report(evaluation)
    except ApiProblem as problem:
        raise _fail(problem) from None
    except (ValueError, KeyError, TypeError):
        raise _fail(ApiProblem("not a gate evaluation", reply.text[:200])) from None
    for line in lines:
        out.print(line)
    raise typer.Exit(exit_code(evaluation))
