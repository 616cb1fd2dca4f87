/** Help texts of the `kubefaas` CLI, one per command. */
export const MAIN_USAGE = `Usage: kubefaas <command> [options]

Commands:
  dev [app]            synthesize a cdk8s app and run the platform locally (router, functions)
  invoke <function>    call a function by name through a router
  init [dir]           write a new project (app, one function, cdk8s.yaml, package.json) to dir
  graph [app]          print the platform graph (routes, functions, topics) as Mermaid, JSON or DOT

Run "kubefaas <command> --help" for the options of a command.
`;

export const DEV_USAGE = `Usage: kubefaas dev [app] [options]

Synthesizes the cdk8s app and runs the synthesized manifests as local processes: the router on
--port, every function with its runtime and code from the ConfigMaps, Services mapped to localhost.
Restarts what changed when files under the app's directory change.

  app                   cdk8s app file (.ts via tsx, .js via node) or a directory of synthesized
                        manifests (default: the "app" command of ./cdk8s.yaml)
  --manifests <dir>     run already-synthesized manifests from <dir> instead of an app
  -p, --port <port>     router port (default 8080; 0 picks a free port)
  --host <address>      address the router listens on (default 127.0.0.1; 0.0.0.0 shares it on
                        every interface). Functions and the queue always stay on 127.0.0.1
  --no-watch            do not watch for changes
  --watch-path <dir>    directory to watch (repeatable; default: the app file's directory)
  -e, --env <[fn:]K=V>  set env var K of workload fn (or of every workload that has K) locally,
                        e.g. --env analytics:REDIS_URL=redis://127.0.0.1:6379 (repeatable)
  --max-replicas <n>    most processes of one function the runner starts when the scaler asks
                        for more (default 3); functions with minReplicas 0 start on demand
  -h, --help            show this help

Secrets the app references but does not define are read from your environment: a container env
var FOO from secretKeyRef is taken from $FOO.

Stops on Ctrl-C, SIGTERM or SIGHUP (a second Ctrl-C stops at once). If the runner is killed
outright (SIGKILL), a watchdog it started stops every process and removes the run directory.
`;

export const INVOKE_USAGE = `Usage: kubefaas invoke <function> [options]

Calls /function/<function><path> and prints the response body. With a local runner (kubefaas dev)
on --router, the call goes to its router's admin listener, where every function is callable by
name; otherwise to <router> itself: a port-forwarded kubefaas-router-admin Service, or a public
router for functions that opted in (invocation.byName). Exits with 1 when the status is 400 or more.

  -d, --data <data>     request body; @file reads a file, @- reads stdin (default method becomes POST)
  -X, --method <method> HTTP method (default GET, or POST with --data)
  --path <path>         sub-path (and query) after the function, e.g. /users/42?full=1
  -H, --header <k:v>    request header (repeatable)
  -p, --port <port>     port of a local router: http://127.0.0.1:<port>
  --router <url>        router base URL. Without --port or --router: the router of the running
                        kubefaas dev (whatever its --port), else http://127.0.0.1:8080
  -t, --trigger cron/<name>
                        fire one tick of the function's CronTrigger <name> in the running
                        kubefaas dev instead of calling the function
  -v, --verbose         also print the status line and response headers (to stderr)
  -h, --help            show this help
`;

export const INIT_USAGE = `Usage: kubefaas init [dir] [options]

Writes a new kubefaas project into dir (default: the current directory; created when missing):
app.ts (a Platform with one NodeFunction), functions/hello.ts, cdk8s.yaml, tsconfig.json,
.gitignore and a package.json with the scripts dev (kubefaas dev), synth (manifests into dist/)
and typecheck. Refuses to overwrite a file that exists. Then: npm install && npm run dev.

  --kubefaas <spec>     how the project depends on kubefaas: an npm version or spec (default
                        ^<this version>), or the path of a tarball from \`npm pack\` (or of a
                        directory), written as file: relative to the project
  --name <name>         the package name (default: the directory's name)
  -h, --help            show this help
`;

export const GRAPH_USAGE = `Usage: kubefaas graph [app] [options]

Synthesizes the cdk8s app (as kubefaas dev does) and prints its platform graph: HTTP routes, cron
triggers and async calls into functions, the topics between them (QueueTriggers, declared
\`publishes\`, response and dead-letter topics) and declared \`invokes\`. cdk8s synth writes the same
graph next to the manifests (platform.graph.jsonc, platform.md).

  app                   cdk8s app file (.ts via tsx, .js via node) or a directory synthesized before
                        (default: the "app" command of ./cdk8s.yaml)
  --manifests <dir>     read the graph a synth wrote into <dir> instead of synthesizing
  -f, --format <fmt>    mermaid (default), json, dot (Graphviz: dot -Tsvg draws it), markdown
  -o, --out <file>      write to <file> instead of stdout
  -h, --help            show this help
`;
