// Helpers shared by the alerts and the dashboards of the mixin.
{
  // A number as PromQL and JSON write it: integers without a fraction, others with the
  // fewest digits up to 15 (0.1, not 0.10000000000000001).
  num(x)::
    if x == std.floor(x) && std.abs(x) < 1e15 then '%d' % x else '%.15g' % x,

  // `{a, b}` of the non-empty matchers, or '' when there is none (`up`, not `up{}`).
  selector(matchers)::
    local given = std.filter(function(m) m != '', matchers);
    if given == [] then '' else '{' + std.join(', ', given) + '}',

  // A text block folded into one line, as YAML's `>-` folds it: its lines joined by single
  // spaces, the final line break dropped.
  fold(text)::
    std.join(' ', std.split(std.rstripChars(text, '\n'), '\n')),

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
    local isDigit(c) = std.findSubstr(c, '0123456789') != [];
    local digits = std.length(count) > 0
                   && std.length(std.filter(isDigit, std.stringChars(count))) == std.length(count);
    if std.objectHas(units, unit) && digits && std.parseInt(count) > 0
    then { count: std.toString(std.parseInt(count)), unit: units[unit] }
    else null,

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
          inner + std.escapeStringJson(k) + ': ' + aux(v[k], inner)
          for k in fields
        ]) + '\n' + indent + '}'
      else if t == 'array' then
        if v == [] then '[]'
        else '[\n' + std.join(',\n', [inner + aux(e, inner) for e in v]) + '\n' + indent + ']'
      else if t == 'string' then std.escapeStringJson(v)
      else if t == 'number' then $.num(v)
      else if t == 'boolean' then (if v then 'true' else 'false')
      else if t == 'null' then 'null'
      else error 'manifestJson: cannot write a ' + t;
    aux(value, ''),

  // YAML of `value` in block style, lists indented under their key (as the rest of the
  // repository writes YAML); strings double-quoted unless they span lines. No final line break.
  manifestYaml(value)::
    std.manifestYamlDoc(value, indent_array_in_object=true, quote_keys=false),
}
