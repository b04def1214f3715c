# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_functl_global_optspecs
    string join \n config= deploy-url= deploy-secret= admin-token= context= o/output= h/help V/version
end

function __fish_functl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_functl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_functl_using_subcommand
    set -l cmd (__fish_functl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c functl -n "__fish_functl_needs_command" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_needs_command" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_needs_command" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_needs_command" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_needs_command" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_needs_command" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_needs_command" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_needs_command" -f -a "jobs" -d 'Deploy jobs: list, show, follow logs, cancel'
complete -c functl -n "__fish_functl_needs_command" -f -a "deploy" -d 'Create a deploy job (an image, or a Git repository to build) and optionally follow it'
complete -c functl -n "__fish_functl_needs_command" -f -a "nodes" -d 'Runtime nodes: list, drain, undrain, enable, disable, remove'
complete -c functl -n "__fish_functl_needs_command" -f -a "apps" -d 'Apps as last deployed: node, image, commit, URL'
complete -c functl -n "__fish_functl_needs_command" -f -a "runners" -d 'Runners that claim jobs'
complete -c functl -n "__fish_functl_needs_command" -f -a "rollback" -d 'Redeploy the previous (or a named) image of an app'
complete -c functl -n "__fish_functl_needs_command" -f -a "check" -d 'Probe the security-group matrix from this host (or show every agent\'s last check with --all)'
complete -c functl -n "__fish_functl_needs_command" -f -a "doctor" -d 'Name the cause of stuck jobs, unreachable or full nodes, refused registries and Git, with the fix'
complete -c functl -n "__fish_functl_needs_command" -f -a "registry" -d 'The registry\'s app images: prune old tags'
complete -c functl -n "__fish_functl_needs_command" -f -a "up" -d 'Start a whole local stack (deployd, agentd, gateway) under ./.funai; --demo deploys the example app'
complete -c functl -n "__fish_functl_needs_command" -f -a "down" -d 'Stop what `functl up` started, and nothing else'
complete -c functl -n "__fish_functl_needs_command" -f -a "status" -d 'The local stack\'s processes, addresses and apps'
complete -c functl -n "__fish_functl_needs_command" -f -a "context" -d 'The estates of the config file ([contexts.NAME]): list them, pick the current one'
complete -c functl -n "__fish_functl_needs_command" -f -a "completions" -d 'Print the completion script for a shell (bash, zsh, fish, powershell, elvish)'
complete -c functl -n "__fish_functl_needs_command" -f -a "generate-docs" -d 'Write completions/ and man/ under a repository root (used to refresh the committed files)'
complete -c functl -n "__fish_functl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c functl -n "__fish_functl_using_subcommand jobs; and not __fish_seen_subcommand_from list show logs cancel wait help" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand jobs; and not __fish_seen_subcommand_from list show logs cancel wait help" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and not __fish_seen_subcommand_from list show logs cancel wait help" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and not __fish_seen_subcommand_from list show logs cancel wait help" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and not __fish_seen_subcommand_from list show logs cancel wait help" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and not __fish_seen_subcommand_from list show logs cancel wait help" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand jobs; and not __fish_seen_subcommand_from list show logs cancel wait help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand jobs; and not __fish_seen_subcommand_from list show logs cancel wait help" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand jobs; and not __fish_seen_subcommand_from list show logs cancel wait help" -f -a "list" -d 'List jobs, newest first'
complete -c functl -n "__fish_functl_using_subcommand jobs; and not __fish_seen_subcommand_from list show logs cancel wait help" -f -a "show" -d 'Show every field of one job'
complete -c functl -n "__fish_functl_using_subcommand jobs; and not __fish_seen_subcommand_from list show logs cancel wait help" -f -a "logs" -d 'Print a job\'s log; -f follows it until the job ends'
complete -c functl -n "__fish_functl_using_subcommand jobs; and not __fish_seen_subcommand_from list show logs cancel wait help" -f -a "cancel" -d 'Cancel a job: at once when PENDING, at the runner\'s next heartbeat when RUNNING'
complete -c functl -n "__fish_functl_using_subcommand jobs; and not __fish_seen_subcommand_from list show logs cancel wait help" -f -a "wait" -d 'Wait for a job to end; exit 0 if it succeeded, 1 if it failed or was cancelled'
complete -c functl -n "__fish_functl_using_subcommand jobs; and not __fish_seen_subcommand_from list show logs cancel wait help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from list" -l app -d 'Only this app\'s jobs' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from list" -l status -d 'Only jobs in this status: PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from list" -l limit -d 'At most this many jobs (deployd caps it at 200)' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from list" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from list" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from list" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from list" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from list" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only the ids, one per line, no header (wins over --output)'
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from show" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from show" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from show" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from show" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from show" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from logs" -l timeout -d 'With -f: give up after this long (90s, 10m, 1h30m): exit 1; the job itself goes on' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from logs" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from logs" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from logs" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from logs" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from logs" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from logs" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from logs" -s f -l follow -d 'Keep printing new output until the job ends; exit 0 if it succeeded, 1 if it failed or was cancelled'
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from logs" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from logs" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from cancel" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from cancel" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from cancel" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from cancel" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from cancel" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from cancel" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from cancel" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from cancel" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from wait" -l timeout -d 'Give up after this long (90s, 10m, 1h30m): exit 1; the job itself goes on' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from wait" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from wait" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from wait" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from wait" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from wait" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from wait" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from wait" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from wait" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from help" -f -a "list" -d 'List jobs, newest first'
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show every field of one job'
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from help" -f -a "logs" -d 'Print a job\'s log; -f follows it until the job ends'
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from help" -f -a "cancel" -d 'Cancel a job: at once when PENDING, at the runner\'s next heartbeat when RUNNING'
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from help" -f -a "wait" -d 'Wait for a job to end; exit 0 if it succeeded, 1 if it failed or was cancelled'
complete -c functl -n "__fish_functl_using_subcommand jobs; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c functl -n "__fish_functl_using_subcommand deploy" -l app -d 'The app to deploy; alone, it redeploys the app as deployd knows it' -r
complete -c functl -n "__fish_functl_using_subcommand deploy" -l user -d 'The app\'s owner: needed for an app deployd has never seen [default: its owner]' -r
complete -c functl -n "__fish_functl_using_subcommand deploy" -l image -d 'Deploy this image as is (stage 1) [default: as the app was last deployed]' -r
complete -c functl -n "__fish_functl_using_subcommand deploy" -l repo -d 'Build this Git repository (stage 2): ssh://git@host:2222/path.git or git@host:path' -r
complete -c functl -n "__fish_functl_using_subcommand deploy" -l ref -d 'Branch, tag or commit to build [default: main]' -r
complete -c functl -n "__fish_functl_using_subcommand deploy" -l dockerfile -d 'Dockerfile, relative to the repository root [default: Dockerfile]' -r
complete -c functl -n "__fish_functl_using_subcommand deploy" -l context -d 'Build context, relative to the repository root [default: the root]' -r
complete -c functl -n "__fish_functl_using_subcommand deploy" -l port -d 'Port the app listens on inside its container [default: 3000]' -r
complete -c functl -n "__fish_functl_using_subcommand deploy" -l env -d 'An environment variable for the app; repeat for more' -r
complete -c functl -n "__fish_functl_using_subcommand deploy" -l timeout -d 'With --wait: give up following after this long (90s, 10m, 1h30m): exit 1; the job itself goes on' -r
complete -c functl -n "__fish_functl_using_subcommand deploy" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand deploy" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand deploy" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand deploy" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand deploy" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand deploy" -l wait -d 'Follow the job: stream its log to stdout, its phase to stderr; exit 0 only if it deployed'
complete -c functl -n "__fish_functl_using_subcommand deploy" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand deploy" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand nodes; and not __fish_seen_subcommand_from list drain undrain enable disable rm help" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand nodes; and not __fish_seen_subcommand_from list drain undrain enable disable rm help" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and not __fish_seen_subcommand_from list drain undrain enable disable rm help" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and not __fish_seen_subcommand_from list drain undrain enable disable rm help" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and not __fish_seen_subcommand_from list drain undrain enable disable rm help" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and not __fish_seen_subcommand_from list drain undrain enable disable rm help" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand nodes; and not __fish_seen_subcommand_from list drain undrain enable disable rm help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand nodes; and not __fish_seen_subcommand_from list drain undrain enable disable rm help" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand nodes; and not __fish_seen_subcommand_from list drain undrain enable disable rm help" -f -a "list" -d 'List runtime nodes with their health, disk and apps'
complete -c functl -n "__fish_functl_using_subcommand nodes; and not __fish_seen_subcommand_from list drain undrain enable disable rm help" -f -a "drain" -d 'Stop placing new apps on a node; its apps move at their next deploy, or now with --migrate'
complete -c functl -n "__fish_functl_using_subcommand nodes; and not __fish_seen_subcommand_from list drain undrain enable disable rm help" -f -a "undrain" -d 'Take a node back after a drain'
complete -c functl -n "__fish_functl_using_subcommand nodes; and not __fish_seen_subcommand_from list drain undrain enable disable rm help" -f -a "enable" -d 'Allow placement on a disabled node'
complete -c functl -n "__fish_functl_using_subcommand nodes; and not __fish_seen_subcommand_from list drain undrain enable disable rm help" -f -a "disable" -d 'Take a node out of placement entirely'
complete -c functl -n "__fish_functl_using_subcommand nodes; and not __fish_seen_subcommand_from list drain undrain enable disable rm help" -f -a "rm" -d 'Forget a node (asks first; --yes when there is no terminal)'
complete -c functl -n "__fish_functl_using_subcommand nodes; and not __fish_seen_subcommand_from list drain undrain enable disable rm help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from list" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from list" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from list" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from list" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from list" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only the ids, one per line, no header (wins over --output)'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from drain" -l to -d 'With --migrate: the node to move the apps to [default: the one deployd picks]' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from drain" -l grace -d 'Seconds the old copy keeps serving after the new one is up, for clients that still hold its address' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from drain" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from drain" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from drain" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from drain" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from drain" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from drain" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from drain" -l migrate -d 'Move every app placed on the node now, instead of at its next deploy'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from drain" -s y -l yes -d 'Do not ask for confirmation'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from drain" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from drain" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from undrain" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from undrain" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from undrain" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from undrain" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from undrain" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from undrain" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from undrain" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from undrain" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from enable" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from enable" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from enable" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from enable" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from enable" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from enable" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from enable" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from enable" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from disable" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from disable" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from disable" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from disable" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from disable" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from disable" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from disable" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from disable" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from rm" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from rm" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from rm" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from rm" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from rm" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from rm" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from rm" -l force -d 'Remove it even while apps are placed on it (their placements are dropped)'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from rm" -s y -l yes -d 'Do not ask for confirmation'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from rm" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from help" -f -a "list" -d 'List runtime nodes with their health, disk and apps'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from help" -f -a "drain" -d 'Stop placing new apps on a node; its apps move at their next deploy, or now with --migrate'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from help" -f -a "undrain" -d 'Take a node back after a drain'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from help" -f -a "enable" -d 'Allow placement on a disabled node'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from help" -f -a "disable" -d 'Take a node out of placement entirely'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Forget a node (asks first; --yes when there is no terminal)'
complete -c functl -n "__fish_functl_using_subcommand nodes; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c functl -n "__fish_functl_using_subcommand apps; and not __fish_seen_subcommand_from list show logs stop delete move help" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand apps; and not __fish_seen_subcommand_from list show logs stop delete move help" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and not __fish_seen_subcommand_from list show logs stop delete move help" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and not __fish_seen_subcommand_from list show logs stop delete move help" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and not __fish_seen_subcommand_from list show logs stop delete move help" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and not __fish_seen_subcommand_from list show logs stop delete move help" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand apps; and not __fish_seen_subcommand_from list show logs stop delete move help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand apps; and not __fish_seen_subcommand_from list show logs stop delete move help" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand apps; and not __fish_seen_subcommand_from list show logs stop delete move help" -f -a "list" -d 'List apps with their node, image, commit and URL'
complete -c functl -n "__fish_functl_using_subcommand apps; and not __fish_seen_subcommand_from list show logs stop delete move help" -f -a "show" -d 'Show one app: its container\'s state, restarts and last exit, a probe of its public URL, and the images it ran recently'
complete -c functl -n "__fish_functl_using_subcommand apps; and not __fish_seen_subcommand_from list show logs stop delete move help" -f -a "logs" -d 'Print the app container\'s output (stdout and stderr) from its node; -f follows'
complete -c functl -n "__fish_functl_using_subcommand apps; and not __fish_seen_subcommand_from list show logs stop delete move help" -f -a "stop" -d 'Stop an app on its node (asks first; --yes when there is no terminal)'
complete -c functl -n "__fish_functl_using_subcommand apps; and not __fish_seen_subcommand_from list show logs stop delete move help" -f -a "delete" -d 'Delete an app: containers, images, registry tags and history (asks first)'
complete -c functl -n "__fish_functl_using_subcommand apps; and not __fish_seen_subcommand_from list show logs stop delete move help" -f -a "move" -d 'Give an app to another user: its next deploy names its image, container and database after the new owner (asks first)'
complete -c functl -n "__fish_functl_using_subcommand apps; and not __fish_seen_subcommand_from list show logs stop delete move help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from list" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from list" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from list" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from list" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from list" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only the ids, one per line, no header (wins over --output)'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from show" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from show" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from show" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from show" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from show" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from logs" -l tail -d 'Only the last N lines [default: all]' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from logs" -l since -d 'Only output since T: a duration back from now (30s, 10m, 2h, 1d, 1h30m) or an RFC 3339 time (2026-12-01T10:00:00Z)' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from logs" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from logs" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from logs" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from logs" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from logs" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from logs" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from logs" -s f -l follow -d 'Keep printing new output until the container stops (Ctrl-C stops following)'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from logs" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from logs" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from stop" -l app -d 'The app' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from stop" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from stop" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from stop" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from stop" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from stop" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from stop" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from stop" -s y -l yes -d 'Do not ask for confirmation'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from stop" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from stop" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from delete" -l app -d 'The app' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from delete" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from delete" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from delete" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from delete" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from delete" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from delete" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from delete" -s y -l yes -d 'Do not ask for confirmation'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from move" -l app -d 'The app' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from move" -l user -d 'Its new owner' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from move" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from move" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from move" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from move" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from move" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from move" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from move" -s y -l yes -d 'Do not ask for confirmation'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from move" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from move" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from help" -f -a "list" -d 'List apps with their node, image, commit and URL'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one app: its container\'s state, restarts and last exit, a probe of its public URL, and the images it ran recently'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from help" -f -a "logs" -d 'Print the app container\'s output (stdout and stderr) from its node; -f follows'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from help" -f -a "stop" -d 'Stop an app on its node (asks first; --yes when there is no terminal)'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete an app: containers, images, registry tags and history (asks first)'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from help" -f -a "move" -d 'Give an app to another user: its next deploy names its image, container and database after the new owner (asks first)'
complete -c functl -n "__fish_functl_using_subcommand apps; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c functl -n "__fish_functl_using_subcommand runners; and not __fish_seen_subcommand_from list help" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand runners; and not __fish_seen_subcommand_from list help" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand runners; and not __fish_seen_subcommand_from list help" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand runners; and not __fish_seen_subcommand_from list help" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand runners; and not __fish_seen_subcommand_from list help" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand runners; and not __fish_seen_subcommand_from list help" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand runners; and not __fish_seen_subcommand_from list help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand runners; and not __fish_seen_subcommand_from list help" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand runners; and not __fish_seen_subcommand_from list help" -f -a "list" -d 'List runners with their health, jobs and last contact'
complete -c functl -n "__fish_functl_using_subcommand runners; and not __fish_seen_subcommand_from list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c functl -n "__fish_functl_using_subcommand runners; and __fish_seen_subcommand_from list" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand runners; and __fish_seen_subcommand_from list" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand runners; and __fish_seen_subcommand_from list" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand runners; and __fish_seen_subcommand_from list" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand runners; and __fish_seen_subcommand_from list" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand runners; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand runners; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only the ids, one per line, no header (wins over --output)'
complete -c functl -n "__fish_functl_using_subcommand runners; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand runners; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand runners; and __fish_seen_subcommand_from help" -f -a "list" -d 'List runners with their health, jobs and last contact'
complete -c functl -n "__fish_functl_using_subcommand runners; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c functl -n "__fish_functl_using_subcommand rollback" -l app -d 'The app to roll back' -r
complete -c functl -n "__fish_functl_using_subcommand rollback" -l to -d 'The tag (or whole image) to go back to [default: the image before the current one]' -r
complete -c functl -n "__fish_functl_using_subcommand rollback" -l timeout -d 'Give up following after this long (90s, 10m, 1h30m): exit 1; the job itself goes on' -r
complete -c functl -n "__fish_functl_using_subcommand rollback" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand rollback" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand rollback" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand rollback" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand rollback" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand rollback" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand rollback" -l no-wait -d 'Only create the job; do not follow it'
complete -c functl -n "__fish_functl_using_subcommand rollback" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand rollback" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand check" -l topology -d 'Topology file: roles mapped to addresses, extra [[allow]] edges [default: /etc/funai/topology.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand check" -l from -d 'This host\'s role(s), comma-separated [default: the roles of this host\'s addresses]' -r
complete -c functl -n "__fish_functl_using_subcommand check" -l timeout-ms -d 'Per-probe timeout in milliseconds: for the TCP connect, and again for the handshake' -r
complete -c functl -n "__fish_functl_using_subcommand check" -l parallel -d 'Probes in flight at once' -r
complete -c functl -n "__fish_functl_using_subcommand check" -l known-hosts -d 'known_hosts that the Git server\'s host key must be in [default: /etc/funai/known_hosts when it exists; else the key is not checked]' -r -F
complete -c functl -n "__fish_functl_using_subcommand check" -l key -d 'The deploy key --auth logs in with [default: /etc/funai/deploy_key]' -r -F
complete -c functl -n "__fish_functl_using_subcommand check" -l ssh-user -d 'The user --auth logs in as' -r
complete -c functl -n "__fish_functl_using_subcommand check" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand check" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand check" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand check" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand check" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand check" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand check" -l expect-closed -d 'Also probe every pair the matrix does not allow, from this host to each role\'s addresses on the matrix\'s ports: each must fail to connect'
complete -c functl -n "__fish_functl_using_subcommand check" -l auth -d 'On the SSH edge, also log in with the deploy key (--key)'
complete -c functl -n "__fish_functl_using_subcommand check" -l all -d 'Show the whole matrix as deployd last heard it from the agents, with each result\'s age'
complete -c functl -n "__fish_functl_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand check" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand doctor" -l job -d 'Diagnose one job (and the node it was placed on)' -r
complete -c functl -n "__fish_functl_using_subcommand doctor" -l app -d 'Diagnose an app: its latest job and its node' -r
complete -c functl -n "__fish_functl_using_subcommand doctor" -l node -d 'Diagnose one runtime node' -r
complete -c functl -n "__fish_functl_using_subcommand doctor" -l timeout-ms -d 'Per-probe timeout in milliseconds (agents, Git server, registry)' -r
complete -c functl -n "__fish_functl_using_subcommand doctor" -l known-hosts -d 'known_hosts for the Git server probe [default: /etc/funai/known_hosts when it exists]' -r -F
complete -c functl -n "__fish_functl_using_subcommand doctor" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand doctor" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand doctor" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand doctor" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand doctor" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand doctor" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand registry; and not __fish_seen_subcommand_from prune help" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand registry; and not __fish_seen_subcommand_from prune help" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand registry; and not __fish_seen_subcommand_from prune help" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand registry; and not __fish_seen_subcommand_from prune help" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand registry; and not __fish_seen_subcommand_from prune help" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand registry; and not __fish_seen_subcommand_from prune help" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand registry; and not __fish_seen_subcommand_from prune help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand registry; and not __fish_seen_subcommand_from prune help" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand registry; and not __fish_seen_subcommand_from prune help" -f -a "prune" -d 'Keep the newest N tags of app repositories, never a running one; delete the rest'
complete -c functl -n "__fish_functl_using_subcommand registry; and not __fish_seen_subcommand_from prune help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c functl -n "__fish_functl_using_subcommand registry; and __fish_seen_subcommand_from prune" -l app -d 'Prune the repository of one app' -r
complete -c functl -n "__fish_functl_using_subcommand registry; and __fish_seen_subcommand_from prune" -l keep -d 'Tags kept per repository' -r
complete -c functl -n "__fish_functl_using_subcommand registry; and __fish_seen_subcommand_from prune" -l parallel -d 'Repositories worked on at once' -r
complete -c functl -n "__fish_functl_using_subcommand registry; and __fish_seen_subcommand_from prune" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand registry; and __fish_seen_subcommand_from prune" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand registry; and __fish_seen_subcommand_from prune" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand registry; and __fish_seen_subcommand_from prune" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand registry; and __fish_seen_subcommand_from prune" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand registry; and __fish_seen_subcommand_from prune" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand registry; and __fish_seen_subcommand_from prune" -l all -d 'Prune every app repository under the namespace (the apps deployd knows)'
complete -c functl -n "__fish_functl_using_subcommand registry; and __fish_seen_subcommand_from prune" -l from-catalog -d 'Take the repositories from the registry\'s catalog instead of deployd\'s app records (Harbor lists its catalog to admin accounts only, not to robot accounts)'
complete -c functl -n "__fish_functl_using_subcommand registry; and __fish_seen_subcommand_from prune" -l registry-insecure -d 'The registry speaks plain HTTP (as registry_insecure / FUNCTL_REGISTRY_INSECURE)'
complete -c functl -n "__fish_functl_using_subcommand registry; and __fish_seen_subcommand_from prune" -l dry-run -d 'Show the plan, delete nothing'
complete -c functl -n "__fish_functl_using_subcommand registry; and __fish_seen_subcommand_from prune" -s y -l yes -d 'Do not ask for confirmation'
complete -c functl -n "__fish_functl_using_subcommand registry; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand registry; and __fish_seen_subcommand_from prune" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand registry; and __fish_seen_subcommand_from help" -f -a "prune" -d 'Keep the newest N tags of app repositories, never a running one; delete the rest'
complete -c functl -n "__fish_functl_using_subcommand registry; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c functl -n "__fish_functl_using_subcommand up" -l dir -d 'Where the stack keeps its state, configs, logs and database' -r -F
complete -c functl -n "__fish_functl_using_subcommand up" -l deployd-port -d 'deployd\'s port on 127.0.0.1' -r
complete -c functl -n "__fish_functl_using_subcommand up" -l agent-port -d 'agentd\'s runtime API port on 127.0.0.1' -r
complete -c functl -n "__fish_functl_using_subcommand up" -l gateway-port -d 'The gateway\'s port on 127.0.0.1 (apps at /runtime/{appId}/)' -r
complete -c functl -n "__fish_functl_using_subcommand up" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand up" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand up" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand up" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand up" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand up" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand up" -l demo -d 'Deploy examples/hello-app through the whole pipeline and print the page it serves'
complete -c functl -n "__fish_functl_using_subcommand up" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand up" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand down" -l dir -d 'The stack\'s directory' -r -F
complete -c functl -n "__fish_functl_using_subcommand down" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand down" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand down" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand down" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand down" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand down" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand down" -l keep-apps -d 'Leave the apps of the stack\'s runtime node running'
complete -c functl -n "__fish_functl_using_subcommand down" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand down" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand status" -l dir -d 'The stack\'s directory' -r -F
complete -c functl -n "__fish_functl_using_subcommand status" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand status" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand status" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand status" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand status" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand status" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand status" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand context; and not __fish_seen_subcommand_from list use help" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand context; and not __fish_seen_subcommand_from list use help" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand context; and not __fish_seen_subcommand_from list use help" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand context; and not __fish_seen_subcommand_from list use help" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand context; and not __fish_seen_subcommand_from list use help" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand context; and not __fish_seen_subcommand_from list use help" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand context; and not __fish_seen_subcommand_from list use help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand context; and not __fish_seen_subcommand_from list use help" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand context; and not __fish_seen_subcommand_from list use help" -f -a "list" -d 'The contexts of the config file; `*` marks the one in use'
complete -c functl -n "__fish_functl_using_subcommand context; and not __fish_seen_subcommand_from list use help" -f -a "use" -d 'Make NAME the context commands use when neither --context nor FUNCTL_CONTEXT names one (writes current_context into the config file)'
complete -c functl -n "__fish_functl_using_subcommand context; and not __fish_seen_subcommand_from list use help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from list" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from list" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from list" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from list" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from list" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only the ids, one per line, no header (wins over --output)'
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from use" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from use" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from use" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from use" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from use" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from use" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from use" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from use" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from help" -f -a "list" -d 'The contexts of the config file; `*` marks the one in use'
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from help" -f -a "use" -d 'Make NAME the context commands use when neither --context nor FUNCTL_CONTEXT names one (writes current_context into the config file)'
complete -c functl -n "__fish_functl_using_subcommand context; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c functl -n "__fish_functl_using_subcommand completions" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand completions" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand completions" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand completions" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand completions" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand completions" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand completions" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand generate-docs" -l root -d 'The repository root: completions/ and man/ are written under it' -r -F
complete -c functl -n "__fish_functl_using_subcommand generate-docs" -l config -d 'Config file [default: ~/.config/functl/config.toml]' -r -F
complete -c functl -n "__fish_functl_using_subcommand generate-docs" -l deploy-url -d 'deployd base URL [default: http://127.0.0.1:7002]' -r
complete -c functl -n "__fish_functl_using_subcommand generate-docs" -l deploy-secret -d 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)' -r
complete -c functl -n "__fish_functl_using_subcommand generate-docs" -l admin-token -d 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)' -r
complete -c functl -n "__fish_functl_using_subcommand generate-docs" -l context -d 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file\'s current_context]' -r
complete -c functl -n "__fish_functl_using_subcommand generate-docs" -s o -l output -d 'Output format: tables for people, JSON for scripts' -r -f -a "table\t'Aligned columns for people'
json\t'Pretty JSON, the records as deployd answered them'"
complete -c functl -n "__fish_functl_using_subcommand generate-docs" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c functl -n "__fish_functl_using_subcommand generate-docs" -s V -l version -d 'Print version'
complete -c functl -n "__fish_functl_using_subcommand help; and not __fish_seen_subcommand_from jobs deploy nodes apps runners rollback check doctor registry up down status context completions generate-docs help" -f -a "jobs" -d 'Deploy jobs: list, show, follow logs, cancel'
complete -c functl -n "__fish_functl_using_subcommand help; and not __fish_seen_subcommand_from jobs deploy nodes apps runners rollback check doctor registry up down status context completions generate-docs help" -f -a "deploy" -d 'Create a deploy job (an image, or a Git repository to build) and optionally follow it'
complete -c functl -n "__fish_functl_using_subcommand help; and not __fish_seen_subcommand_from jobs deploy nodes apps runners rollback check doctor registry up down status context completions generate-docs help" -f -a "nodes" -d 'Runtime nodes: list, drain, undrain, enable, disable, remove'
complete -c functl -n "__fish_functl_using_subcommand help; and not __fish_seen_subcommand_from jobs deploy nodes apps runners rollback check doctor registry up down status context completions generate-docs help" -f -a "apps" -d 'Apps as last deployed: node, image, commit, URL'
complete -c functl -n "__fish_functl_using_subcommand help; and not __fish_seen_subcommand_from jobs deploy nodes apps runners rollback check doctor registry up down status context completions generate-docs help" -f -a "runners" -d 'Runners that claim jobs'
complete -c functl -n "__fish_functl_using_subcommand help; and not __fish_seen_subcommand_from jobs deploy nodes apps runners rollback check doctor registry up down status context completions generate-docs help" -f -a "rollback" -d 'Redeploy the previous (or a named) image of an app'
complete -c functl -n "__fish_functl_using_subcommand help; and not __fish_seen_subcommand_from jobs deploy nodes apps runners rollback check doctor registry up down status context completions generate-docs help" -f -a "check" -d 'Probe the security-group matrix from this host (or show every agent\'s last check with --all)'
complete -c functl -n "__fish_functl_using_subcommand help; and not __fish_seen_subcommand_from jobs deploy nodes apps runners rollback check doctor registry up down status context completions generate-docs help" -f -a "doctor" -d 'Name the cause of stuck jobs, unreachable or full nodes, refused registries and Git, with the fix'
complete -c functl -n "__fish_functl_using_subcommand help; and not __fish_seen_subcommand_from jobs deploy nodes apps runners rollback check doctor registry up down status context completions generate-docs help" -f -a "registry" -d 'The registry\'s app images: prune old tags'
complete -c functl -n "__fish_functl_using_subcommand help; and not __fish_seen_subcommand_from jobs deploy nodes apps runners rollback check doctor registry up down status context completions generate-docs help" -f -a "up" -d 'Start a whole local stack (deployd, agentd, gateway) under ./.funai; --demo deploys the example app'
complete -c functl -n "__fish_functl_using_subcommand help; and not __fish_seen_subcommand_from jobs deploy nodes apps runners rollback check doctor registry up down status context completions generate-docs help" -f -a "down" -d 'Stop what `functl up` started, and nothing else'
complete -c functl -n "__fish_functl_using_subcommand help; and not __fish_seen_subcommand_from jobs deploy nodes apps runners rollback check doctor registry up down status context completions generate-docs help" -f -a "status" -d 'The local stack\'s processes, addresses and apps'
complete -c functl -n "__fish_functl_using_subcommand help; and not __fish_seen_subcommand_from jobs deploy nodes apps runners rollback check doctor registry up down status context completions generate-docs help" -f -a "context" -d 'The estates of the config file ([contexts.NAME]): list them, pick the current one'
complete -c functl -n "__fish_functl_using_subcommand help; and not __fish_seen_subcommand_from jobs deploy nodes apps runners rollback check doctor registry up down status context completions generate-docs help" -f -a "completions" -d 'Print the completion script for a shell (bash, zsh, fish, powershell, elvish)'
complete -c functl -n "__fish_functl_using_subcommand help; and not __fish_seen_subcommand_from jobs deploy nodes apps runners rollback check doctor registry up down status context completions generate-docs help" -f -a "generate-docs" -d 'Write completions/ and man/ under a repository root (used to refresh the committed files)'
complete -c functl -n "__fish_functl_using_subcommand help; and not __fish_seen_subcommand_from jobs deploy nodes apps runners rollback check doctor registry up down status context completions generate-docs help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from jobs" -f -a "list" -d 'List jobs, newest first'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from jobs" -f -a "show" -d 'Show every field of one job'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from jobs" -f -a "logs" -d 'Print a job\'s log; -f follows it until the job ends'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from jobs" -f -a "cancel" -d 'Cancel a job: at once when PENDING, at the runner\'s next heartbeat when RUNNING'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from jobs" -f -a "wait" -d 'Wait for a job to end; exit 0 if it succeeded, 1 if it failed or was cancelled'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from nodes" -f -a "list" -d 'List runtime nodes with their health, disk and apps'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from nodes" -f -a "drain" -d 'Stop placing new apps on a node; its apps move at their next deploy, or now with --migrate'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from nodes" -f -a "undrain" -d 'Take a node back after a drain'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from nodes" -f -a "enable" -d 'Allow placement on a disabled node'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from nodes" -f -a "disable" -d 'Take a node out of placement entirely'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from nodes" -f -a "rm" -d 'Forget a node (asks first; --yes when there is no terminal)'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from apps" -f -a "list" -d 'List apps with their node, image, commit and URL'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from apps" -f -a "show" -d 'Show one app: its container\'s state, restarts and last exit, a probe of its public URL, and the images it ran recently'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from apps" -f -a "logs" -d 'Print the app container\'s output (stdout and stderr) from its node; -f follows'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from apps" -f -a "stop" -d 'Stop an app on its node (asks first; --yes when there is no terminal)'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from apps" -f -a "delete" -d 'Delete an app: containers, images, registry tags and history (asks first)'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from apps" -f -a "move" -d 'Give an app to another user: its next deploy names its image, container and database after the new owner (asks first)'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from runners" -f -a "list" -d 'List runners with their health, jobs and last contact'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from registry" -f -a "prune" -d 'Keep the newest N tags of app repositories, never a running one; delete the rest'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from context" -f -a "list" -d 'The contexts of the config file; `*` marks the one in use'
complete -c functl -n "__fish_functl_using_subcommand help; and __fish_seen_subcommand_from context" -f -a "use" -d 'Make NAME the context commands use when neither --context nor FUNCTL_CONTEXT names one (writes current_context into the config file)'
