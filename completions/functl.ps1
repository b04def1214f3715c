
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'functl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'functl'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'functl' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('jobs', 'jobs', [CompletionResultType]::ParameterValue, 'Deploy jobs: list, show, follow logs, cancel')
            [CompletionResult]::new('deploy', 'deploy', [CompletionResultType]::ParameterValue, 'Create a deploy job (an image, or a Git repository to build) and optionally follow it')
            [CompletionResult]::new('nodes', 'nodes', [CompletionResultType]::ParameterValue, 'Runtime nodes: list, drain, undrain, enable, disable, remove')
            [CompletionResult]::new('apps', 'apps', [CompletionResultType]::ParameterValue, 'Apps as last deployed: node, image, commit, URL')
            [CompletionResult]::new('runners', 'runners', [CompletionResultType]::ParameterValue, 'Runners that claim jobs')
            [CompletionResult]::new('rollback', 'rollback', [CompletionResultType]::ParameterValue, 'Redeploy the previous (or a named) image of an app')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Probe the security-group matrix from this host (or show every agent''s last check with --all)')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Name the cause of stuck jobs, unreachable or full nodes, refused registries and Git, with the fix')
            [CompletionResult]::new('registry', 'registry', [CompletionResultType]::ParameterValue, 'The registry''s app images: prune old tags')
            [CompletionResult]::new('up', 'up', [CompletionResultType]::ParameterValue, 'Start a whole local stack (deployd, agentd, gateway) under ./.funai; --demo deploys the example app')
            [CompletionResult]::new('down', 'down', [CompletionResultType]::ParameterValue, 'Stop what `functl up` started, and nothing else')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'The local stack''s processes, addresses and apps')
            [CompletionResult]::new('context', 'context', [CompletionResultType]::ParameterValue, 'The estates of the config file ([contexts.NAME]): list them, pick the current one')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print the completion script for a shell (bash, zsh, fish, powershell, elvish)')
            [CompletionResult]::new('generate-docs', 'generate-docs', [CompletionResultType]::ParameterValue, 'Write completions/ and man/ under a repository root (used to refresh the committed files)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'functl;jobs' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List jobs, newest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show every field of one job')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print a job''s log; -f follows it until the job ends')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Cancel a job: at once when PENDING, at the runner''s next heartbeat when RUNNING')
            [CompletionResult]::new('wait', 'wait', [CompletionResultType]::ParameterValue, 'Wait for a job to end; exit 0 if it succeeded, 1 if it failed or was cancelled')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'functl;jobs;list' {
            [CompletionResult]::new('--app', '--app', [CompletionResultType]::ParameterName, 'Only this app''s jobs')
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Only jobs in this status: PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'At most this many jobs (deployd caps it at 200)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only the ids, one per line, no header (wins over --output)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only the ids, one per line, no header (wins over --output)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;jobs;show' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;jobs;logs' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'With -f: give up after this long (90s, 10m, 1h30m): exit 1; the job itself goes on')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep printing new output until the job ends; exit 0 if it succeeded, 1 if it failed or was cancelled')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep printing new output until the job ends; exit 0 if it succeeded, 1 if it failed or was cancelled')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;jobs;cancel' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;jobs;wait' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up after this long (90s, 10m, 1h30m): exit 1; the job itself goes on')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;jobs;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List jobs, newest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show every field of one job')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print a job''s log; -f follows it until the job ends')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Cancel a job: at once when PENDING, at the runner''s next heartbeat when RUNNING')
            [CompletionResult]::new('wait', 'wait', [CompletionResultType]::ParameterValue, 'Wait for a job to end; exit 0 if it succeeded, 1 if it failed or was cancelled')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'functl;jobs;help;list' {
            break
        }
        'functl;jobs;help;show' {
            break
        }
        'functl;jobs;help;logs' {
            break
        }
        'functl;jobs;help;cancel' {
            break
        }
        'functl;jobs;help;wait' {
            break
        }
        'functl;jobs;help;help' {
            break
        }
        'functl;deploy' {
            [CompletionResult]::new('--app', '--app', [CompletionResultType]::ParameterName, 'The app to deploy; alone, it redeploys the app as deployd knows it')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The app''s owner: needed for an app deployd has never seen [default: its owner]')
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'Deploy this image as is (stage 1) [default: as the app was last deployed]')
            [CompletionResult]::new('--repo', '--repo', [CompletionResultType]::ParameterName, 'Build this Git repository (stage 2): ssh://git@host:2222/path.git or git@host:path')
            [CompletionResult]::new('--ref', '--ref', [CompletionResultType]::ParameterName, 'Branch, tag or commit to build [default: main]')
            [CompletionResult]::new('--dockerfile', '--dockerfile', [CompletionResultType]::ParameterName, 'Dockerfile, relative to the repository root [default: Dockerfile]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Build context, relative to the repository root [default: the root]')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port the app listens on inside its container [default: 3000]')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'An environment variable for the app; repeat for more')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'With --wait: give up following after this long (90s, 10m, 1h30m): exit 1; the job itself goes on')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Follow the job: stream its log to stdout, its phase to stderr; exit 0 only if it deployed')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;nodes' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List runtime nodes with their health, disk and apps')
            [CompletionResult]::new('drain', 'drain', [CompletionResultType]::ParameterValue, 'Stop placing new apps on a node; its apps move at their next deploy, or now with --migrate')
            [CompletionResult]::new('undrain', 'undrain', [CompletionResultType]::ParameterValue, 'Take a node back after a drain')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Allow placement on a disabled node')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Take a node out of placement entirely')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Forget a node (asks first; --yes when there is no terminal)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'functl;nodes;list' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only the ids, one per line, no header (wins over --output)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only the ids, one per line, no header (wins over --output)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;nodes;drain' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'With --migrate: the node to move the apps to [default: the one deployd picks]')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'Seconds the old copy keeps serving after the new one is up, for clients that still hold its address')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--migrate', '--migrate', [CompletionResultType]::ParameterName, 'Move every app placed on the node now, instead of at its next deploy')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;nodes;undrain' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;nodes;enable' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;nodes;disable' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;nodes;rm' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Remove it even while apps are placed on it (their placements are dropped)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;nodes;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List runtime nodes with their health, disk and apps')
            [CompletionResult]::new('drain', 'drain', [CompletionResultType]::ParameterValue, 'Stop placing new apps on a node; its apps move at their next deploy, or now with --migrate')
            [CompletionResult]::new('undrain', 'undrain', [CompletionResultType]::ParameterValue, 'Take a node back after a drain')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Allow placement on a disabled node')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Take a node out of placement entirely')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Forget a node (asks first; --yes when there is no terminal)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'functl;nodes;help;list' {
            break
        }
        'functl;nodes;help;drain' {
            break
        }
        'functl;nodes;help;undrain' {
            break
        }
        'functl;nodes;help;enable' {
            break
        }
        'functl;nodes;help;disable' {
            break
        }
        'functl;nodes;help;rm' {
            break
        }
        'functl;nodes;help;help' {
            break
        }
        'functl;apps' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List apps with their node, image, commit and URL')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one app: its container''s state, restarts and last exit, a probe of its public URL, and the images it ran recently')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print the app container''s output (stdout and stderr) from its node; -f follows')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Stop an app on its node (asks first; --yes when there is no terminal)')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an app: containers, images, registry tags and history (asks first)')
            [CompletionResult]::new('move', 'move', [CompletionResultType]::ParameterValue, 'Give an app to another user: its next deploy names its image, container and database after the new owner (asks first)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'functl;apps;list' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only the ids, one per line, no header (wins over --output)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only the ids, one per line, no header (wins over --output)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;apps;show' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;apps;logs' {
            [CompletionResult]::new('--tail', '--tail', [CompletionResultType]::ParameterName, 'Only the last N lines [default: all]')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only output since T: a duration back from now (30s, 10m, 2h, 1d, 1h30m) or an RFC 3339 time (2026-12-01T10:00:00Z)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep printing new output until the container stops (Ctrl-C stops following)')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep printing new output until the container stops (Ctrl-C stops following)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;apps;stop' {
            [CompletionResult]::new('--app', '--app', [CompletionResultType]::ParameterName, 'The app')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;apps;delete' {
            [CompletionResult]::new('--app', '--app', [CompletionResultType]::ParameterName, 'The app')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;apps;move' {
            [CompletionResult]::new('--app', '--app', [CompletionResultType]::ParameterName, 'The app')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Its new owner')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;apps;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List apps with their node, image, commit and URL')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one app: its container''s state, restarts and last exit, a probe of its public URL, and the images it ran recently')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print the app container''s output (stdout and stderr) from its node; -f follows')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Stop an app on its node (asks first; --yes when there is no terminal)')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an app: containers, images, registry tags and history (asks first)')
            [CompletionResult]::new('move', 'move', [CompletionResultType]::ParameterValue, 'Give an app to another user: its next deploy names its image, container and database after the new owner (asks first)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'functl;apps;help;list' {
            break
        }
        'functl;apps;help;show' {
            break
        }
        'functl;apps;help;logs' {
            break
        }
        'functl;apps;help;stop' {
            break
        }
        'functl;apps;help;delete' {
            break
        }
        'functl;apps;help;move' {
            break
        }
        'functl;apps;help;help' {
            break
        }
        'functl;runners' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List runners with their health, jobs and last contact')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'functl;runners;list' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only the ids, one per line, no header (wins over --output)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only the ids, one per line, no header (wins over --output)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;runners;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List runners with their health, jobs and last contact')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'functl;runners;help;list' {
            break
        }
        'functl;runners;help;help' {
            break
        }
        'functl;rollback' {
            [CompletionResult]::new('--app', '--app', [CompletionResultType]::ParameterName, 'The app to roll back')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'The tag (or whole image) to go back to [default: the image before the current one]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up following after this long (90s, 10m, 1h30m): exit 1; the job itself goes on')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Only create the job; do not follow it')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;check' {
            [CompletionResult]::new('--topology', '--topology', [CompletionResultType]::ParameterName, 'Topology file: roles mapped to addresses, extra [[allow]] edges [default: /etc/funai/topology.toml]')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'This host''s role(s), comma-separated [default: the roles of this host''s addresses]')
            [CompletionResult]::new('--timeout-ms', '--timeout-ms', [CompletionResultType]::ParameterName, 'Per-probe timeout in milliseconds: for the TCP connect, and again for the handshake')
            [CompletionResult]::new('--parallel', '--parallel', [CompletionResultType]::ParameterName, 'Probes in flight at once')
            [CompletionResult]::new('--known-hosts', '--known-hosts', [CompletionResultType]::ParameterName, 'known_hosts that the Git server''s host key must be in [default: /etc/funai/known_hosts when it exists; else the key is not checked]')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The deploy key --auth logs in with [default: /etc/funai/deploy_key]')
            [CompletionResult]::new('--ssh-user', '--ssh-user', [CompletionResultType]::ParameterName, 'The user --auth logs in as')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--expect-closed', '--expect-closed', [CompletionResultType]::ParameterName, 'Also probe every pair the matrix does not allow, from this host to each role''s addresses on the matrix''s ports: each must fail to connect')
            [CompletionResult]::new('--auth', '--auth', [CompletionResultType]::ParameterName, 'On the SSH edge, also log in with the deploy key (--key)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Show the whole matrix as deployd last heard it from the agents, with each result''s age')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;doctor' {
            [CompletionResult]::new('--job', '--job', [CompletionResultType]::ParameterName, 'Diagnose one job (and the node it was placed on)')
            [CompletionResult]::new('--app', '--app', [CompletionResultType]::ParameterName, 'Diagnose an app: its latest job and its node')
            [CompletionResult]::new('--node', '--node', [CompletionResultType]::ParameterName, 'Diagnose one runtime node')
            [CompletionResult]::new('--timeout-ms', '--timeout-ms', [CompletionResultType]::ParameterName, 'Per-probe timeout in milliseconds (agents, Git server, registry)')
            [CompletionResult]::new('--known-hosts', '--known-hosts', [CompletionResultType]::ParameterName, 'known_hosts for the Git server probe [default: /etc/funai/known_hosts when it exists]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;registry' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Keep the newest N tags of app repositories, never a running one; delete the rest')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'functl;registry;prune' {
            [CompletionResult]::new('--app', '--app', [CompletionResultType]::ParameterName, 'Prune the repository of one app')
            [CompletionResult]::new('--keep', '--keep', [CompletionResultType]::ParameterName, 'Tags kept per repository')
            [CompletionResult]::new('--parallel', '--parallel', [CompletionResultType]::ParameterName, 'Repositories worked on at once')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Prune every app repository under the namespace (the apps deployd knows)')
            [CompletionResult]::new('--from-catalog', '--from-catalog', [CompletionResultType]::ParameterName, 'Take the repositories from the registry''s catalog instead of deployd''s app records (Harbor lists its catalog to admin accounts only, not to robot accounts)')
            [CompletionResult]::new('--registry-insecure', '--registry-insecure', [CompletionResultType]::ParameterName, 'The registry speaks plain HTTP (as registry_insecure / FUNCTL_REGISTRY_INSECURE)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the plan, delete nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;registry;help' {
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Keep the newest N tags of app repositories, never a running one; delete the rest')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'functl;registry;help;prune' {
            break
        }
        'functl;registry;help;help' {
            break
        }
        'functl;up' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Where the stack keeps its state, configs, logs and database')
            [CompletionResult]::new('--deployd-port', '--deployd-port', [CompletionResultType]::ParameterName, 'deployd''s port on 127.0.0.1')
            [CompletionResult]::new('--agent-port', '--agent-port', [CompletionResultType]::ParameterName, 'agentd''s runtime API port on 127.0.0.1')
            [CompletionResult]::new('--gateway-port', '--gateway-port', [CompletionResultType]::ParameterName, 'The gateway''s port on 127.0.0.1 (apps at /runtime/{appId}/)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--demo', '--demo', [CompletionResultType]::ParameterName, 'Deploy examples/hello-app through the whole pipeline and print the page it serves')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;down' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The stack''s directory')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--keep-apps', '--keep-apps', [CompletionResultType]::ParameterName, 'Leave the apps of the stack''s runtime node running')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;status' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The stack''s directory')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;context' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The contexts of the config file; `*` marks the one in use')
            [CompletionResult]::new('use', 'use', [CompletionResultType]::ParameterValue, 'Make NAME the context commands use when neither --context nor FUNCTL_CONTEXT names one (writes current_context into the config file)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'functl;context;list' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only the ids, one per line, no header (wins over --output)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only the ids, one per line, no header (wins over --output)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;context;use' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;context;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The contexts of the config file; `*` marks the one in use')
            [CompletionResult]::new('use', 'use', [CompletionResultType]::ParameterValue, 'Make NAME the context commands use when neither --context nor FUNCTL_CONTEXT names one (writes current_context into the config file)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'functl;context;help;list' {
            break
        }
        'functl;context;help;use' {
            break
        }
        'functl;context;help;help' {
            break
        }
        'functl;completions' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;generate-docs' {
            [CompletionResult]::new('--root', '--root', [CompletionResultType]::ParameterName, 'The repository root: completions/ and man/ are written under it')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/functl/config.toml]')
            [CompletionResult]::new('--deploy-url', '--deploy-url', [CompletionResultType]::ParameterName, 'deployd base URL [default: http://127.0.0.1:7002]')
            [CompletionResult]::new('--deploy-secret', '--deploy-secret', [CompletionResultType]::ParameterName, 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)')
            [CompletionResult]::new('--admin-token', '--admin-token', [CompletionResultType]::ParameterName, 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: tables for people, JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'functl;help' {
            [CompletionResult]::new('jobs', 'jobs', [CompletionResultType]::ParameterValue, 'Deploy jobs: list, show, follow logs, cancel')
            [CompletionResult]::new('deploy', 'deploy', [CompletionResultType]::ParameterValue, 'Create a deploy job (an image, or a Git repository to build) and optionally follow it')
            [CompletionResult]::new('nodes', 'nodes', [CompletionResultType]::ParameterValue, 'Runtime nodes: list, drain, undrain, enable, disable, remove')
            [CompletionResult]::new('apps', 'apps', [CompletionResultType]::ParameterValue, 'Apps as last deployed: node, image, commit, URL')
            [CompletionResult]::new('runners', 'runners', [CompletionResultType]::ParameterValue, 'Runners that claim jobs')
            [CompletionResult]::new('rollback', 'rollback', [CompletionResultType]::ParameterValue, 'Redeploy the previous (or a named) image of an app')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Probe the security-group matrix from this host (or show every agent''s last check with --all)')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Name the cause of stuck jobs, unreachable or full nodes, refused registries and Git, with the fix')
            [CompletionResult]::new('registry', 'registry', [CompletionResultType]::ParameterValue, 'The registry''s app images: prune old tags')
            [CompletionResult]::new('up', 'up', [CompletionResultType]::ParameterValue, 'Start a whole local stack (deployd, agentd, gateway) under ./.funai; --demo deploys the example app')
            [CompletionResult]::new('down', 'down', [CompletionResultType]::ParameterValue, 'Stop what `functl up` started, and nothing else')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'The local stack''s processes, addresses and apps')
            [CompletionResult]::new('context', 'context', [CompletionResultType]::ParameterValue, 'The estates of the config file ([contexts.NAME]): list them, pick the current one')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print the completion script for a shell (bash, zsh, fish, powershell, elvish)')
            [CompletionResult]::new('generate-docs', 'generate-docs', [CompletionResultType]::ParameterValue, 'Write completions/ and man/ under a repository root (used to refresh the committed files)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'functl;help;jobs' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List jobs, newest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show every field of one job')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print a job''s log; -f follows it until the job ends')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Cancel a job: at once when PENDING, at the runner''s next heartbeat when RUNNING')
            [CompletionResult]::new('wait', 'wait', [CompletionResultType]::ParameterValue, 'Wait for a job to end; exit 0 if it succeeded, 1 if it failed or was cancelled')
            break
        }
        'functl;help;jobs;list' {
            break
        }
        'functl;help;jobs;show' {
            break
        }
        'functl;help;jobs;logs' {
            break
        }
        'functl;help;jobs;cancel' {
            break
        }
        'functl;help;jobs;wait' {
            break
        }
        'functl;help;deploy' {
            break
        }
        'functl;help;nodes' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List runtime nodes with their health, disk and apps')
            [CompletionResult]::new('drain', 'drain', [CompletionResultType]::ParameterValue, 'Stop placing new apps on a node; its apps move at their next deploy, or now with --migrate')
            [CompletionResult]::new('undrain', 'undrain', [CompletionResultType]::ParameterValue, 'Take a node back after a drain')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Allow placement on a disabled node')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Take a node out of placement entirely')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Forget a node (asks first; --yes when there is no terminal)')
            break
        }
        'functl;help;nodes;list' {
            break
        }
        'functl;help;nodes;drain' {
            break
        }
        'functl;help;nodes;undrain' {
            break
        }
        'functl;help;nodes;enable' {
            break
        }
        'functl;help;nodes;disable' {
            break
        }
        'functl;help;nodes;rm' {
            break
        }
        'functl;help;apps' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List apps with their node, image, commit and URL')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one app: its container''s state, restarts and last exit, a probe of its public URL, and the images it ran recently')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print the app container''s output (stdout and stderr) from its node; -f follows')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Stop an app on its node (asks first; --yes when there is no terminal)')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an app: containers, images, registry tags and history (asks first)')
            [CompletionResult]::new('move', 'move', [CompletionResultType]::ParameterValue, 'Give an app to another user: its next deploy names its image, container and database after the new owner (asks first)')
            break
        }
        'functl;help;apps;list' {
            break
        }
        'functl;help;apps;show' {
            break
        }
        'functl;help;apps;logs' {
            break
        }
        'functl;help;apps;stop' {
            break
        }
        'functl;help;apps;delete' {
            break
        }
        'functl;help;apps;move' {
            break
        }
        'functl;help;runners' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List runners with their health, jobs and last contact')
            break
        }
        'functl;help;runners;list' {
            break
        }
        'functl;help;rollback' {
            break
        }
        'functl;help;check' {
            break
        }
        'functl;help;doctor' {
            break
        }
        'functl;help;registry' {
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Keep the newest N tags of app repositories, never a running one; delete the rest')
            break
        }
        'functl;help;registry;prune' {
            break
        }
        'functl;help;up' {
            break
        }
        'functl;help;down' {
            break
        }
        'functl;help;status' {
            break
        }
        'functl;help;context' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The contexts of the config file; `*` marks the one in use')
            [CompletionResult]::new('use', 'use', [CompletionResultType]::ParameterValue, 'Make NAME the context commands use when neither --context nor FUNCTL_CONTEXT names one (writes current_context into the config file)')
            break
        }
        'functl;help;context;list' {
            break
        }
        'functl;help;context;use' {
            break
        }
        'functl;help;completions' {
            break
        }
        'functl;help;generate-docs' {
            break
        }
        'functl;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
