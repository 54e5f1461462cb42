"""Per-source mapping rules: what the tool's names mean in Sextant's terms.

Like DevLake's scope config, but small: which item types and labels are incidents or
bugs, which environments are production, which branches are the default, which accounts
are bots. Defaults cover the common names so a new source works before anyone tunes it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


def _lower(values: list[str]) -> set[str]:
    return {value.strip().lower() for value in values}


@lru_cache(maxsize=1024)
def _globs(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for a list of globs: ``*`` and ``?`` are wildcards, everything else is
    literal (``[bot]`` included); case-insensitive, whole name."""
    alternatives = [
        re.escape(p.strip().lower()).replace(r"\*", ".*").replace(r"\?", ".") for p in patterns
    ]
    return re.compile(f"(?:{'|'.join(alternatives) or '(?!)'})\\Z")


def _matches(name: str, patterns: list[str]) -> bool:
    return _globs(tuple(patterns)).match(name.strip().lower()) is not None


# GitHub names every app's account ``<app>[bot]`` (dependabot[bot], github-actions[bot]):
# the tool's own mark of a bot, so no source's patterns can leave it out.
BOT_SUFFIX = "[bot]"


class MappingRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident_types: list[str] = Field(default_factory=lambda: ["incident"])
    incident_labels: list[str] = Field(default_factory=lambda: ["incident"])
    bug_types: list[str] = Field(default_factory=lambda: ["bug", "defect"])
    bug_labels: list[str] = Field(default_factory=lambda: ["bug", "type: bug", "kind/bug"])
    production_environments: list[str] = Field(
        default_factory=lambda: ["production", "prod", "live"],
        description="environment names (glob patterns, case-insensitive) that are production",
    )
    default_branches: list[str] = Field(
        default_factory=list, description="extra default branches beyond the repository's own"
    )
    bot_patterns: list[str] = Field(
        default_factory=lambda: ["dependabot*", "renovate*"],
        description="logins, names or emails (glob, case-insensitive) that are bots, besides"
        " those the tool marks (GitHub's `[bot]` suffix and `type: Bot`, GitLab's `bot`,"
        " Jira's app accounts)",
    )

    def item_type(self, tool_type: str | None, labels: list[str]) -> str:
        """``incident`` or ``bug`` when the rules say so, else the tool's type in lower case."""
        kind = (tool_type or "").strip().lower()
        tags = _lower(labels)
        if kind in _lower(self.incident_types) or tags & _lower(self.incident_labels):
            return "incident"
        if kind in _lower(self.bug_types) or tags & _lower(self.bug_labels):
            return "bug"
        return kind or "issue"

    def is_production(self, environment: str) -> bool:
        return _matches(environment, self.production_environments)

    def is_default_branch(self, branch: str, repository_default: str | None) -> bool | None:
        """The repository's default branch or one the rules name; None when it is neither
        and the tool did not say which branch is the repository's default."""
        if branch == repository_default or branch in self.default_branches:
            return True
        return None if repository_default is None else False

    def is_bot(self, *names: str | None) -> bool:
        """Any of the names ends in ``[bot]`` or matches one of the source's patterns."""
        return any(
            name.strip().lower().endswith(BOT_SUFFIX) or _matches(name, self.bot_patterns)
            for name in names
            if name
        )
