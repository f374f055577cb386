// Every file generated from the mixin, for `jsonnet -S -m <dir>` (scripts/mixin.sh): the keys
// are paths under <dir>, the values their text. `config` is merged into _config:
//
//   jsonnet -J mixin -S -m out --tla-code 'config={runbookURL: "https://wiki.example.com/x"}' \
//     mixin/lib/generate.jsonnet
function(config={})
  (import 'files.libsonnet')((import '../mixin.libsonnet') + { _config+:: config })
