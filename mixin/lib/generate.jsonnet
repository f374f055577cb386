// Every file generated from the mixin, for `jsonnet -S -m <dir>` (scripts/mixin.sh): the keys
// are paths under <dir> (jsonnet creates no folder: make alerts/, dashboards/ and
// examples/kubernetes/ first), the values their text. `config` is merged into _config:
//
//   jsonnet -S -m out --tla-code 'config={runbookURL: "https://wiki.example.com/x"}' \
//     mixin/lib/generate.jsonnet
function(config={})
  (import 'files.libsonnet')((import '../mixin.libsonnet') + { _config+:: config })
