# Tab completion for `inv` / `invoke` in a monorepo driven by dbtasks: Invoke's own completion of task
# names and options, plus the service names of migrations.yaml for the db.* tasks that take a SERVICE.
#
#   bash: add `source /path/to/docs/completion/dbtasks.bash` to ~/.bashrc
#   zsh:  add the same line to ~/.zshrc (it loads zsh's compinit and bashcompinit, then the same function runs)
#
# Task names and options come from `inv --complete` (what `inv --print-completion-script bash` installs);
# service names from `dbtasks complete WORD`, which reads the nearest migrations.yaml (cwd upwards, or the
# folder given with -r/--search-root) and prints nothing on any error. Both must be on PATH (the venv's bin).

if [ -n "${ZSH_VERSION-}" ]; then
    if ! type compdef >/dev/null 2>&1; then
        autoload -U +X compinit && compinit
    fi
    autoload -U +X bashcompinit && bashcompinit
fi

# The db.* tasks whose first argument is a SERVICE, and the options of those tasks that take no value.
_dbtasks_service_tasks=" upgrade downgrade generate check sql reset stamp merge current history heads verify lint checksums "
_dbtasks_task_flags=" --verbose -v --yes -y -vy -yv --empty --json --keep --allow-edited --create-databases --markdown --services --verify "
# Invoke's own options (before the first task) that take a value.
_dbtasks_core_values=" -c --collection -D --list-depth -f --config -F --list-format -r --search-root -T --command-timeout --hide --print-completion-script "

_dbtasks_complete_inv() {
    [ -n "${ZSH_VERSION-}" ] && setopt localoptions ksharrays
    local cur="${COMP_WORDS[COMP_CWORD]}" word task="" root="." expect="" positionals=0 named=0 i
    # Walk the words before the cursor: the last db.* task, and what its arguments so far were.
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${COMP_WORDS[i]}"
        if [ -n "$expect" ]; then
            [ "$word" = "=" ] && continue # bash splits --to=REV into --to, =, REV
            [ "$expect" = root ] && root="$word"
            expect=""
            continue
        fi
        case "$word" in
        db.*) task="${word#db.}" positionals=0 named=0 ;;
        -r | --search-root) [ -z "$task" ] && expect=root || expect=value ;;
        --service) named=1 expect=service ;;
        --service=* | --*=* | =) ;;
        -*)
            if [ -z "$task" ]; then
                case "$_dbtasks_core_values" in *" $word "*) expect=value ;; esac
            else
                case "$_dbtasks_task_flags" in *" $word "*) ;; *) expect=value ;; esac
            fi
            ;;
        *) [ -n "$task" ] && positionals=$((positionals + 1)) ;;
        esac
    done
    local services=""
    case "$_dbtasks_service_tasks" in *" ${task:-none} "*)
        if [ "$expect" = service ] || { [ -z "$expect" ] && [ "$named" = 0 ] && [ "$positionals" = 0 ]; }; then
            case "$cur" in -*) ;; *) services=yes ;; esac
        fi
        ;;
    esac
    if [ -n "$services" ]; then
        [ "$cur" = "=" ] && cur="" # --service=<TAB>: the word after the '='
        local names
        names="$(cd "$root" 2>/dev/null && dbtasks complete -- "$cur" 2>/dev/null)"
        COMPREPLY=($(compgen -W "$names" -- "$cur"))
        return 0
    fi
    local candidates
    candidates="$("${COMP_WORDS[0]}" --complete -- "${COMP_WORDS[@]}" 2>/dev/null)"
    COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
}

# -o default: file names when nothing matched (as Invoke's own script does).
complete -F _dbtasks_complete_inv -o default invoke inv
