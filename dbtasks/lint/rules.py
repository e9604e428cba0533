"""squawk's rules as dbtasks uses them: the names migrations.yaml may give, the default exclude list, and the
rules each service's lint runs with (`lint: {exclude: [...], include: [...]}`, top level then per service)."""

from __future__ import annotations

from dataclasses import dataclass

# Every rule squawk-cli 2.x knows (its --exclude and --include refuse any other name).
RULES = frozenset(
    (
        "adding-field-with-default",
        "adding-foreign-key-constraint",
        "adding-not-nullable-field",
        "adding-required-field",
        "adding-serial-primary-key-field",
        "ban-add-column",
        "ban-add-composite-attribute",
        "ban-add-enum-value",
        "ban-alter-database-options",
        "ban-alter-domain-with-add-constraint",
        "ban-alter-extension",
        "ban-alter-function-options",
        "ban-alter-generated-expression",
        "ban-alter-identity",
        "ban-alter-policy-condition",
        "ban-alter-policy-roles",
        "ban-alter-role-options",
        "ban-alter-row-level-security",
        "ban-alter-sequence-values",
        "ban-alter-system-options",
        "ban-alter-view-options",
        "ban-char-field",
        "ban-concurrent-index-creation-in-transaction",
        "ban-create-domain-with-constraint",
        "ban-create-policy",
        "ban-detach-inheritance",
        "ban-disable-trigger",
        "ban-drop-column",
        "ban-drop-constraint",
        "ban-drop-database",
        "ban-drop-default",
        "ban-drop-domain",
        "ban-drop-extension",
        "ban-drop-function",
        "ban-drop-generated-expression",
        "ban-drop-index",
        "ban-drop-not-null",
        "ban-drop-policy",
        "ban-drop-schema",
        "ban-drop-sequence",
        "ban-drop-table",
        "ban-drop-trigger",
        "ban-drop-type",
        "ban-drop-view",
        "ban-duplicate-column-assignments",
        "ban-new-write-restriction",
        "ban-replace-view-function",
        "ban-replica-identity",
        "ban-revoke",
        "ban-set-default",
        "ban-set-schema",
        "ban-truncate-cascade",
        "ban-uncommitted-transaction",
        "changing-column-type",
        "constraint-missing-not-valid",
        "disallowed-unique-constraint",
        "identifier-too-long",
        "prefer-bigint-over-int",
        "prefer-bigint-over-smallint",
        "prefer-identity",
        "prefer-repack",
        "prefer-robust-stmts",
        "prefer-text-field",
        "prefer-timestamp-tz",
        "renaming-column",
        "renaming-object",
        "renaming-table",
        "require-concurrent-index-creation",
        "require-concurrent-index-deletion",
        "require-concurrent-partition-detach",
        "require-concurrent-reindex",
        "require-enum-value-ordering",
        "require-lock-timeout",
        "require-statement-timeout",
        "require-table-schema",
        "require-timeout-settings",
        "transaction-nesting",
    )
)

# Rules dbtasks turns off unless migrations.yaml includes them again, and why: lint is about the locks a migration
# takes and the clients it breaks, not about what the models chose or what dbtasks already does for every migration.
DEFAULT_EXCLUDE: dict[str, str] = {
    "require-lock-timeout": "dbtasks sets lock_timeout for every migration transaction (environments: lock_timeout)",
    "require-statement-timeout": "dbtasks sets statement_timeout for every migration transaction (environments: statement_timeout)",
    "require-timeout-settings": "the same two timeouts, set by dbtasks per environment",
    "prefer-robust-stmts": (
        "inside a migration's transaction squawk does not report it; outside one (autocommit_block), IF NOT EXISTS would "
        "skip the INVALID index a failed CREATE INDEX CONCURRENTLY leaves instead of building it"
    ),
    "prefer-bigint-over-int": "a column type the models chose (Integer primary keys render as SERIAL), not a lock",
    "prefer-bigint-over-smallint": "a column type the models chose, not a lock",
    "prefer-identity": "SQLAlchemy renders Integer primary keys as SERIAL; a type choice, not a lock",
    "prefer-text-field": "String(n) renders as VARCHAR(n); a type choice, and widening a VARCHAR takes no rewrite",
    "prefer-timestamp-tz": "a column type the models chose, not a lock",
    "ban-char-field": "a column type the models chose, not a lock",
}

# A silence comment in a revision file names the rules it silences, then why: `# lint: ignore[rule] -- reason`.
SILENCE_RULE = "lint-silence"  # what a bad or unused silence comment is reported as


@dataclass(frozen=True)
class LintRules:
    """The rules one service's lint runs with: squawk's defaults less `exclude`, plus the opt-in ones in `include`."""

    exclude: tuple[str, ...] = tuple(DEFAULT_EXCLUDE)
    include: tuple[str, ...] = ()
    pg_version: str | None = None  # the PostgreSQL the migrations run on (squawk's --pg-version; default: a recent one)

    def layered(self, exclude: list[str], include: list[str], pg_version: str | None = None) -> LintRules:
        """These rules with a layer of migrations.yaml's on top (the top level's, then a service's): its include
        turns a rule back on, its exclude turns one off, its pg_version replaces the one below."""
        excluded = [rule for rule in self.exclude if rule not in include] + [rule for rule in exclude if rule not in self.exclude]
        included = [rule for rule in self.include if rule not in exclude] + [rule for rule in include if rule not in self.include]
        kept = tuple(rule for rule in included if rule not in excluded)
        return LintRules(tuple(excluded), kept, pg_version or self.pg_version)


def unknown_rule(name: object) -> str | None:
    """What is wrong with `name` as a squawk rule, or None."""
    if isinstance(name, str) and name in RULES:
        return None
    import difflib  # only on this error path

    close = difflib.get_close_matches(name, sorted(RULES), n=1) if isinstance(name, str) else []
    hint = f"did you mean {close[0]!r}?" if close else "see https://squawkhq.com/docs/rules for the rules"
    return f"unknown squawk rule {name!r}; {hint}"
