
use builtin;
use str;

set edit:completion:arg-completer[functl] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'functl'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'functl'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand jobs 'Deploy jobs: list, show, follow logs, cancel'
            cand deploy 'Create a deploy job (an image, or a Git repository to build) and optionally follow it'
            cand nodes 'Runtime nodes: list, drain, undrain, enable, disable, remove'
            cand apps 'Apps as last deployed: node, image, commit, URL'
            cand runners 'Runners that claim jobs'
            cand rollback 'Redeploy the previous (or a named) image of an app'
            cand check 'Probe the security-group matrix from this host (or show every agent''s last check with --all)'
            cand doctor 'Name the cause of stuck jobs, unreachable or full nodes, refused registries and Git, with the fix'
            cand registry 'The registry''s app images: prune old tags'
            cand up 'Start a whole local stack (deployd, agentd, gateway) under ./.funai; --demo deploys the example app'
            cand down 'Stop what `functl up` started, and nothing else'
            cand status 'The local stack''s processes, addresses and apps'
            cand context 'The estates of the config file ([contexts.NAME]): list them, pick the current one'
            cand completions 'Print the completion script for a shell (bash, zsh, fish, powershell, elvish)'
            cand generate-docs 'Write completions/ and man/ under a repository root (used to refresh the committed files)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'functl;jobs'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List jobs, newest first'
            cand show 'Show every field of one job'
            cand logs 'Print a job''s log; -f follows it until the job ends'
            cand cancel 'Cancel a job: at once when PENDING, at the runner''s next heartbeat when RUNNING'
            cand wait 'Wait for a job to end; exit 0 if it succeeded, 1 if it failed or was cancelled'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'functl;jobs;list'= {
            cand --app 'Only this app''s jobs'
            cand --status 'Only jobs in this status: PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED'
            cand --limit 'At most this many jobs (deployd caps it at 200)'
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -q 'Print only the ids, one per line, no header (wins over --output)'
            cand --quiet 'Print only the ids, one per line, no header (wins over --output)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;jobs;show'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;jobs;logs'= {
            cand --timeout 'With -f: give up after this long (90s, 10m, 1h30m): exit 1; the job itself goes on'
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -f 'Keep printing new output until the job ends; exit 0 if it succeeded, 1 if it failed or was cancelled'
            cand --follow 'Keep printing new output until the job ends; exit 0 if it succeeded, 1 if it failed or was cancelled'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;jobs;cancel'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;jobs;wait'= {
            cand --timeout 'Give up after this long (90s, 10m, 1h30m): exit 1; the job itself goes on'
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;jobs;help'= {
            cand list 'List jobs, newest first'
            cand show 'Show every field of one job'
            cand logs 'Print a job''s log; -f follows it until the job ends'
            cand cancel 'Cancel a job: at once when PENDING, at the runner''s next heartbeat when RUNNING'
            cand wait 'Wait for a job to end; exit 0 if it succeeded, 1 if it failed or was cancelled'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'functl;jobs;help;list'= {
        }
        &'functl;jobs;help;show'= {
        }
        &'functl;jobs;help;logs'= {
        }
        &'functl;jobs;help;cancel'= {
        }
        &'functl;jobs;help;wait'= {
        }
        &'functl;jobs;help;help'= {
        }
        &'functl;deploy'= {
            cand --app 'The app to deploy; alone, it redeploys the app as deployd knows it'
            cand --user 'The app''s owner: needed for an app deployd has never seen [default: its owner]'
            cand --image 'Deploy this image as is (stage 1) [default: as the app was last deployed]'
            cand --repo 'Build this Git repository (stage 2): ssh://git@host:2222/path.git or git@host:path'
            cand --ref 'Branch, tag or commit to build [default: main]'
            cand --dockerfile 'Dockerfile, relative to the repository root [default: Dockerfile]'
            cand --context 'Build context, relative to the repository root [default: the root]'
            cand --port 'Port the app listens on inside its container [default: 3000]'
            cand --env 'An environment variable for the app; repeat for more'
            cand --timeout 'With --wait: give up following after this long (90s, 10m, 1h30m): exit 1; the job itself goes on'
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand --wait 'Follow the job: stream its log to stdout, its phase to stderr; exit 0 only if it deployed'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;nodes'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List runtime nodes with their health, disk and apps'
            cand drain 'Stop placing new apps on a node; its apps move at their next deploy, or now with --migrate'
            cand undrain 'Take a node back after a drain'
            cand enable 'Allow placement on a disabled node'
            cand disable 'Take a node out of placement entirely'
            cand rm 'Forget a node (asks first; --yes when there is no terminal)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'functl;nodes;list'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -q 'Print only the ids, one per line, no header (wins over --output)'
            cand --quiet 'Print only the ids, one per line, no header (wins over --output)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;nodes;drain'= {
            cand --to 'With --migrate: the node to move the apps to [default: the one deployd picks]'
            cand --grace 'Seconds the old copy keeps serving after the new one is up, for clients that still hold its address'
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand --migrate 'Move every app placed on the node now, instead of at its next deploy'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;nodes;undrain'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;nodes;enable'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;nodes;disable'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;nodes;rm'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand --force 'Remove it even while apps are placed on it (their placements are dropped)'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;nodes;help'= {
            cand list 'List runtime nodes with their health, disk and apps'
            cand drain 'Stop placing new apps on a node; its apps move at their next deploy, or now with --migrate'
            cand undrain 'Take a node back after a drain'
            cand enable 'Allow placement on a disabled node'
            cand disable 'Take a node out of placement entirely'
            cand rm 'Forget a node (asks first; --yes when there is no terminal)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'functl;nodes;help;list'= {
        }
        &'functl;nodes;help;drain'= {
        }
        &'functl;nodes;help;undrain'= {
        }
        &'functl;nodes;help;enable'= {
        }
        &'functl;nodes;help;disable'= {
        }
        &'functl;nodes;help;rm'= {
        }
        &'functl;nodes;help;help'= {
        }
        &'functl;apps'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List apps with their node, image, commit and URL'
            cand show 'Show one app: its container''s state, restarts and last exit, a probe of its public URL, and the images it ran recently'
            cand logs 'Print the app container''s output (stdout and stderr) from its node; -f follows'
            cand stop 'Stop an app on its node (asks first; --yes when there is no terminal)'
            cand delete 'Delete an app: containers, images, registry tags and history (asks first)'
            cand move 'Give an app to another user: its next deploy names its image, container and database after the new owner (asks first)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'functl;apps;list'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -q 'Print only the ids, one per line, no header (wins over --output)'
            cand --quiet 'Print only the ids, one per line, no header (wins over --output)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;apps;show'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;apps;logs'= {
            cand --tail 'Only the last N lines [default: all]'
            cand --since 'Only output since T: a duration back from now (30s, 10m, 2h, 1d, 1h30m) or an RFC 3339 time (2026-12-01T10:00:00Z)'
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -f 'Keep printing new output until the container stops (Ctrl-C stops following)'
            cand --follow 'Keep printing new output until the container stops (Ctrl-C stops following)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;apps;stop'= {
            cand --app 'The app'
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;apps;delete'= {
            cand --app 'The app'
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;apps;move'= {
            cand --app 'The app'
            cand --user 'Its new owner'
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;apps;help'= {
            cand list 'List apps with their node, image, commit and URL'
            cand show 'Show one app: its container''s state, restarts and last exit, a probe of its public URL, and the images it ran recently'
            cand logs 'Print the app container''s output (stdout and stderr) from its node; -f follows'
            cand stop 'Stop an app on its node (asks first; --yes when there is no terminal)'
            cand delete 'Delete an app: containers, images, registry tags and history (asks first)'
            cand move 'Give an app to another user: its next deploy names its image, container and database after the new owner (asks first)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'functl;apps;help;list'= {
        }
        &'functl;apps;help;show'= {
        }
        &'functl;apps;help;logs'= {
        }
        &'functl;apps;help;stop'= {
        }
        &'functl;apps;help;delete'= {
        }
        &'functl;apps;help;move'= {
        }
        &'functl;apps;help;help'= {
        }
        &'functl;runners'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List runners with their health, jobs and last contact'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'functl;runners;list'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -q 'Print only the ids, one per line, no header (wins over --output)'
            cand --quiet 'Print only the ids, one per line, no header (wins over --output)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;runners;help'= {
            cand list 'List runners with their health, jobs and last contact'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'functl;runners;help;list'= {
        }
        &'functl;runners;help;help'= {
        }
        &'functl;rollback'= {
            cand --app 'The app to roll back'
            cand --to 'The tag (or whole image) to go back to [default: the image before the current one]'
            cand --timeout 'Give up following after this long (90s, 10m, 1h30m): exit 1; the job itself goes on'
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand --no-wait 'Only create the job; do not follow it'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;check'= {
            cand --topology 'Topology file: roles mapped to addresses, extra [[allow]] edges [default: /etc/funai/topology.toml]'
            cand --from 'This host''s role(s), comma-separated [default: the roles of this host''s addresses]'
            cand --timeout-ms 'Per-probe timeout in milliseconds: for the TCP connect, and again for the handshake'
            cand --parallel 'Probes in flight at once'
            cand --known-hosts 'known_hosts that the Git server''s host key must be in [default: /etc/funai/known_hosts when it exists; else the key is not checked]'
            cand --key 'The deploy key --auth logs in with [default: /etc/funai/deploy_key]'
            cand --ssh-user 'The user --auth logs in as'
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand --expect-closed 'Also probe every pair the matrix does not allow, from this host to each role''s addresses on the matrix''s ports: each must fail to connect'
            cand --auth 'On the SSH edge, also log in with the deploy key (--key)'
            cand --all 'Show the whole matrix as deployd last heard it from the agents, with each result''s age'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;doctor'= {
            cand --job 'Diagnose one job (and the node it was placed on)'
            cand --app 'Diagnose an app: its latest job and its node'
            cand --node 'Diagnose one runtime node'
            cand --timeout-ms 'Per-probe timeout in milliseconds (agents, Git server, registry)'
            cand --known-hosts 'known_hosts for the Git server probe [default: /etc/funai/known_hosts when it exists]'
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;registry'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand prune 'Keep the newest N tags of app repositories, never a running one; delete the rest'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'functl;registry;prune'= {
            cand --app 'Prune the repository of one app'
            cand --keep 'Tags kept per repository'
            cand --parallel 'Repositories worked on at once'
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand --all 'Prune every app repository under the namespace (the apps deployd knows)'
            cand --from-catalog 'Take the repositories from the registry''s catalog instead of deployd''s app records (Harbor lists its catalog to admin accounts only, not to robot accounts)'
            cand --registry-insecure 'The registry speaks plain HTTP (as registry_insecure / FUNCTL_REGISTRY_INSECURE)'
            cand --dry-run 'Show the plan, delete nothing'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;registry;help'= {
            cand prune 'Keep the newest N tags of app repositories, never a running one; delete the rest'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'functl;registry;help;prune'= {
        }
        &'functl;registry;help;help'= {
        }
        &'functl;up'= {
            cand --dir 'Where the stack keeps its state, configs, logs and database'
            cand --deployd-port 'deployd''s port on 127.0.0.1'
            cand --agent-port 'agentd''s runtime API port on 127.0.0.1'
            cand --gateway-port 'The gateway''s port on 127.0.0.1 (apps at /runtime/{appId}/)'
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand --demo 'Deploy examples/hello-app through the whole pipeline and print the page it serves'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;down'= {
            cand --dir 'The stack''s directory'
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand --keep-apps 'Leave the apps of the stack''s runtime node running'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;status'= {
            cand --dir 'The stack''s directory'
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;context'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'The contexts of the config file; `*` marks the one in use'
            cand use 'Make NAME the context commands use when neither --context nor FUNCTL_CONTEXT names one (writes current_context into the config file)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'functl;context;list'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -q 'Print only the ids, one per line, no header (wins over --output)'
            cand --quiet 'Print only the ids, one per line, no header (wins over --output)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;context;use'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;context;help'= {
            cand list 'The contexts of the config file; `*` marks the one in use'
            cand use 'Make NAME the context commands use when neither --context nor FUNCTL_CONTEXT names one (writes current_context into the config file)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'functl;context;help;list'= {
        }
        &'functl;context;help;use'= {
        }
        &'functl;context;help;help'= {
        }
        &'functl;completions'= {
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;generate-docs'= {
            cand --root 'The repository root: completions/ and man/ are written under it'
            cand --config 'Config file [default: ~/.config/functl/config.toml]'
            cand --deploy-url 'deployd base URL [default: http://127.0.0.1:7002]'
            cand --deploy-secret 'Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags show in the process list)'
            cand --admin-token 'Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)'
            cand --context 'The estate to talk to: a [contexts.NAME] table of the config file [default: the file''s current_context]'
            cand -o 'Output format: tables for people, JSON for scripts'
            cand --output 'Output format: tables for people, JSON for scripts'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'functl;help'= {
            cand jobs 'Deploy jobs: list, show, follow logs, cancel'
            cand deploy 'Create a deploy job (an image, or a Git repository to build) and optionally follow it'
            cand nodes 'Runtime nodes: list, drain, undrain, enable, disable, remove'
            cand apps 'Apps as last deployed: node, image, commit, URL'
            cand runners 'Runners that claim jobs'
            cand rollback 'Redeploy the previous (or a named) image of an app'
            cand check 'Probe the security-group matrix from this host (or show every agent''s last check with --all)'
            cand doctor 'Name the cause of stuck jobs, unreachable or full nodes, refused registries and Git, with the fix'
            cand registry 'The registry''s app images: prune old tags'
            cand up 'Start a whole local stack (deployd, agentd, gateway) under ./.funai; --demo deploys the example app'
            cand down 'Stop what `functl up` started, and nothing else'
            cand status 'The local stack''s processes, addresses and apps'
            cand context 'The estates of the config file ([contexts.NAME]): list them, pick the current one'
            cand completions 'Print the completion script for a shell (bash, zsh, fish, powershell, elvish)'
            cand generate-docs 'Write completions/ and man/ under a repository root (used to refresh the committed files)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'functl;help;jobs'= {
            cand list 'List jobs, newest first'
            cand show 'Show every field of one job'
            cand logs 'Print a job''s log; -f follows it until the job ends'
            cand cancel 'Cancel a job: at once when PENDING, at the runner''s next heartbeat when RUNNING'
            cand wait 'Wait for a job to end; exit 0 if it succeeded, 1 if it failed or was cancelled'
        }
        &'functl;help;jobs;list'= {
        }
        &'functl;help;jobs;show'= {
        }
        &'functl;help;jobs;logs'= {
        }
        &'functl;help;jobs;cancel'= {
        }
        &'functl;help;jobs;wait'= {
        }
        &'functl;help;deploy'= {
        }
        &'functl;help;nodes'= {
            cand list 'List runtime nodes with their health, disk and apps'
            cand drain 'Stop placing new apps on a node; its apps move at their next deploy, or now with --migrate'
            cand undrain 'Take a node back after a drain'
            cand enable 'Allow placement on a disabled node'
            cand disable 'Take a node out of placement entirely'
            cand rm 'Forget a node (asks first; --yes when there is no terminal)'
        }
        &'functl;help;nodes;list'= {
        }
        &'functl;help;nodes;drain'= {
        }
        &'functl;help;nodes;undrain'= {
        }
        &'functl;help;nodes;enable'= {
        }
        &'functl;help;nodes;disable'= {
        }
        &'functl;help;nodes;rm'= {
        }
        &'functl;help;apps'= {
            cand list 'List apps with their node, image, commit and URL'
            cand show 'Show one app: its container''s state, restarts and last exit, a probe of its public URL, and the images it ran recently'
            cand logs 'Print the app container''s output (stdout and stderr) from its node; -f follows'
            cand stop 'Stop an app on its node (asks first; --yes when there is no terminal)'
            cand delete 'Delete an app: containers, images, registry tags and history (asks first)'
            cand move 'Give an app to another user: its next deploy names its image, container and database after the new owner (asks first)'
        }
        &'functl;help;apps;list'= {
        }
        &'functl;help;apps;show'= {
        }
        &'functl;help;apps;logs'= {
        }
        &'functl;help;apps;stop'= {
        }
        &'functl;help;apps;delete'= {
        }
        &'functl;help;apps;move'= {
        }
        &'functl;help;runners'= {
            cand list 'List runners with their health, jobs and last contact'
        }
        &'functl;help;runners;list'= {
        }
        &'functl;help;rollback'= {
        }
        &'functl;help;check'= {
        }
        &'functl;help;doctor'= {
        }
        &'functl;help;registry'= {
            cand prune 'Keep the newest N tags of app repositories, never a running one; delete the rest'
        }
        &'functl;help;registry;prune'= {
        }
        &'functl;help;up'= {
        }
        &'functl;help;down'= {
        }
        &'functl;help;status'= {
        }
        &'functl;help;context'= {
            cand list 'The contexts of the config file; `*` marks the one in use'
            cand use 'Make NAME the context commands use when neither --context nor FUNCTL_CONTEXT names one (writes current_context into the config file)'
        }
        &'functl;help;context;list'= {
        }
        &'functl;help;context;use'= {
        }
        &'functl;help;completions'= {
        }
        &'functl;help;generate-docs'= {
        }
        &'functl;help;help'= {
        }
    ]
    $completions[$command]
}
