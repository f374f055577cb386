// Helpers shared by the alerts and the dashboards of the mixin.
//
// jsonnet 0.18 (Debian's) runs several std functions as jsonnet code, character by character:
// std.findSubstr takes 0.4 s on a 1 KB string, std.escapeStringJson 0.25 s. These helpers use
// the native ones only (std.split, std.strReplace, std.substr, std.toString), so that the
// mixin generates in seconds.
local charSet(chars) = { [c]: true for c in std.stringChars(chars) };
local digits = charSet('0123456789');
local keyChars = charSet('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-');
local only(set, s) = std.length(std.filter(function(c) !std.objectHas(set, c), std.stringChars(s))) == 0;
local contains(s, part) = std.length(std.split(s, part)) > 1;

{
  // A number as PromQL and JSON write it: integers without a fraction, others with the
  // fewest digits up to 15 (0.1, not 0.10000000000000001).
  num(x)::
    if x == std.floor(x) && std.abs(x) < 1e15 then '%d' % x else '%.15g' % x,

  // `{a, b}` of the non-empty matchers, or '' when there is none (`up`, not `up{}`).
  selector(matchers)::
    local given = std.filter(function(m) m != '', matchers);
    if given == [] then '' else '{' + std.join(', ', given) + '}',

  // A text block folded into one line, as YAML's `>-` folds one without empty lines: its lines
  // joined by single spaces, the final line break dropped.
  fold(text)::
    local lines = std.split(text, '\n');
    local n = std.length(lines);
    std.join(' ', if lines[n - 1] == '' then lines[0:n - 1] else lines),

  // `text` with each `${name}` replaced by vars[name] (the annotations are Go templates full
  // of `%`, which jsonnet's own `%` formatting would need doubled).
  fill(text, vars)::
    std.foldl(function(t, k) std.strReplace(t, '${' + k + '}', vars[k]), std.objectFields(vars), text),

  // A Prometheus duration of one unit in words, for annotations: '10m' -> '10 minutes',
  // '1h' -> '1 hour'. Any other form is returned as it is.
  durationText(d)::
    local p = $.parseDuration(d);
    if p == null then d
    else p.count + ' ' + p.unit + (if p.count == '1' then '' else 's'),

  // The same after "the last": '1d' -> 'day', '6h' -> '6 hours'.
  lastText(d)::
    local p = $.parseDuration(d);
    if p != null && p.count == '1' then p.unit else $.durationText(d),

  // '10m' -> { count: '10', unit: 'minute' }; null for any other form than digits and a unit.
  parseDuration(d)::
    local units = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week' };
    local unit = std.substr(d, std.length(d) - 1, 1);
    local count = std.substr(d, 0, std.length(d) - 1);
    if std.objectHas(units, unit) && count != '' && only(digits, count) && std.parseInt(count) > 0
    then { count: std.toString(std.parseInt(count)), unit: units[unit] }
    else null,

  // `s` as a JSON string (and a YAML double-quoted one): the native manifestation of an array
  // escapes it as std.escapeStringJson does.
  quote(s)::
    local array = std.toString([s]);
    std.substr(array, 1, std.length(array) - 2),

  // JSON of `value`, indented by two spaces, keys sorted, numbers as `num` writes them (the
  // std.manifestJson* functions of jsonnet 0.18 write 0.9 as 0.90000000000000002). No final
  // line break: `jsonnet -S -m` ends each file with one.
  manifestJson(value)::
    local aux(v, indent) =
      local inner = indent + '  ';
      local t = std.type(v);
      if t == 'object' then
        local fields = std.objectFields(v);
        if fields == [] then '{}'
        else '{\n' + std.join(',\n', [
          inner + $.quote(k) + ': ' + aux(v[k], inner)
          for k in fields
        ]) + '\n' + indent + '}'
      else if t == 'array' then
        if v == [] then '[]'
        else '[\n' + std.join(',\n', [inner + aux(e, inner) for e in v]) + '\n' + indent + ']'
      else if t == 'string' then $.quote(v)
      else if t == 'number' then $.num(v)
      else if t == 'boolean' then (if v then 'true' else 'false')
      else if t == 'null' then 'null'
      else error 'manifestJson: cannot write a ' + t;
    aux(value, ''),

  // YAML of `value` in block style, lists indented under their key; the keys of a rule file and
  // of a Kubernetes object in the order people write them, others after them, sorted. Strings
  // are double-quoted, but for a text of several lines ending in one line break, which is a
  // literal block (`|`), as PromQL expressions are written. No final line break.
  manifestYaml(value)::
    local order = [
      'apiVersion',
      'kind',
      'metadata',
      'name',
      'namespace',
      'spec',
      'groups',
      'rules',
      'alert',
      'record',
      'expr',
      'for',
      'keep_firing_for',
      'labels',
      'annotations',
      'summary',
      'description',
      'runbook_url',
    ];
    local rank = { [order[i]]: std.char(std.codepoint('A') + i) for i in std.range(0, std.length(order) - 1) };
    local sortKey(k) = (if std.objectHas(rank, k) then rank[k] else 'z') + k;
    local keys(o) = std.sort(std.objectFields(o), sortKey);
    local reserved = ['y', 'n', 'yes', 'no', 'on', 'off', 'true', 'false', 'null'];
    local key(k) =
      if k != '' && only(keyChars, k) && std.substr(k, 0, 1) != '-'
         && std.length(std.filter(function(r) r == std.asciiLower(k), reserved)) == 0
      then k
      else $.quote(k);
    local last(s, n) = std.substr(s, std.length(s) - n, n);
    local isBlock(v) =
      std.type(v) == 'string'
      && std.length(std.split(v, '\n')) > 2
      && last(v, 1) == '\n' && last(v, 2) != '\n\n'
      && std.substr(v, 0, 1) != ' '
      && !contains(v, '\t') && !contains(v, '\r');
    local block(v, indent) =
      '|\n' + std.join('\n', [
        if line == '' then '' else indent + line
        for line in std.split(std.substr(v, 0, std.length(v) - 1), '\n')
      ]);
    local scalar(v) =
      local t = std.type(v);
      if t == 'string' then $.quote(v)
      else if t == 'number' then $.num(v)
      else if t == 'boolean' then (if v then 'true' else 'false')
      else if t == 'null' then 'null'
      else if t == 'object' then '{}'
      else if t == 'array' then '[]'
      else error 'manifestYaml: cannot write a ' + t;
    local nested(v) = (std.type(v) == 'object' || std.type(v) == 'array') && std.length(v) > 0;
    // The lines of `v` (an object or an array) at `indent`.
    local aux(v, indent) =
      if std.type(v) == 'object' then
        std.join('\n', [
          local e = v[k];
          indent + key(k) + ':' + (
            if nested(e) then '\n' + aux(e, indent + '  ')
            else if isBlock(e) then ' ' + block(e, indent + '  ')
            else ' ' + scalar(e)
          )
          for k in keys(v)
        ])
      else
        std.join('\n', [
          if nested(e) && std.type(e) == 'object' then
            // The object's first key on the dash's line.
            local lines = aux(e, indent + '  ');
            indent + '- ' + std.substr(lines, std.length(indent) + 2, std.length(lines))
          else if nested(e) then indent + '-\n' + aux(e, indent + '  ')
          else if isBlock(e) then indent + '- ' + block(e, indent + '  ')
          else indent + '- ' + scalar(e)
          for e in v
        ]);
    if nested(value) then aux(value, '') else scalar(value),
}
