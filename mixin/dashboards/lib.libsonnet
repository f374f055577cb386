// Building blocks of the dashboards: the panel kinds they use with the settings they share,
// queries, a layout in lines of panels, and the dashboard around them. Every panel and query
// reads the `${datasource}` variable; the `system`, `source` and `device` variables are
// multi-valued with All = `.*`.
//
// A panel constructor takes its width (of 24 columns) and height; `layout` places the panels
// of each line side by side, each line under the previous one, and numbers the panels.
{
  datasource:: { type: 'prometheus', uid: '${datasource}' },

  // ---- Queries -------------------------------------------------------------------------------

  // A query over the time range (time series, state timelines).
  range(expr, legend='__auto'):: {
    datasource: $.datasource,
    editorMode: 'code',
    expr: expr,
    legendFormat: legend,
    range: true,
    instant: false,
  },

  // A query at the end of the time range (stats, bar gauges).
  instant(expr, legend='__auto'):: $.range(expr, legend) { range: false, instant: true },

  // An instant query in table format: one row per series, its labels as columns, its value as
  // the column `Value #<refId>`.
  tableQuery(expr):: $.instant(expr) { format: 'table' },

  // ---- Field settings ------------------------------------------------------------------------

  // Thresholds from a base colour and [value, colour] steps above it.
  thresholds(base, steps=[]):: {
    mode: 'absolute',
    steps: [{ color: base, value: null }] + [{ color: s[1], value: s[0] } for s in steps],
  },

  // Value mappings from [value, text] or [value, text, colour] entries.
  valueText(entries):: [{
    type: 'value',
    options: {
      [entries[i][0]]: { text: entries[i][1], index: i }
                       + (if std.length(entries[i]) > 2 then { color: entries[i][2] } else {})
      for i in std.range(0, std.length(entries) - 1)
    },
  }],

  // Numbers from `at` up shown as `text` in green (a "days until full" too far to matter),
  // no number (NaN) as a dash.
  farAway(at, text):: [
    { type: 'range', options: { from: at, to: 1e308, result: { text: text, color: 'green', index: 0 } } },
    { type: 'special', options: { match: 'nan', result: { text: '—', index: 1 } } },
  ],

  fixedColor(color):: { mode: 'fixed', fixedColor: color },

  // An override of the fields named `name` (a column, a legend); its properties in order.
  byName(name, properties):: { matcher: { id: 'byName', options: name }, properties: properties },
  byRegexp(regexp, properties):: { matcher: { id: 'byRegexp', options: regexp }, properties: properties },
  prop:: {
    unit(unit):: { id: 'unit', value: unit },
    decimals(n):: { id: 'decimals', value: n },
    thresholds(t):: { id: 'thresholds', value: t },
    mappings(m):: { id: 'mappings', value: m },
    color(c):: { id: 'color', value: c },
    cell(options):: { id: 'custom.cellOptions', value: options },
    custom(key, value):: { id: 'custom.' + key, value: value },
    links(l):: { id: 'links', value: l },
  },
  // A table's `device` column linked to the device drill-down of that device.
  drillDownLink(config):: $.byName('device', [$.prop.links([{
    title: 'Device drill-down: ${__value.raw}',
    url: '/d/%sdevice/backup-device-drill-down?${__url_time_range}&${datasource:queryparam}&var-device=${__value.raw}'
         % config.dashboardUIDPrefix,
  }])]),

  // A dashed line (a threshold or a limit drawn beside the series).
  dashed:: [$.prop.custom('lineStyle', { fill: 'dash', dash: [10, 10] }), $.prop.custom('fillOpacity', 0)],

  // ---- Panels --------------------------------------------------------------------------------

  local panel(type, title, description, queries, w, h) = {
    type: type,
    title: title,
    description: description,
    datasource: $.datasource,
    targets: [
      queries[i] { refId: std.char(std.codepoint('A') + i) }
      for i in std.range(0, std.length(queries) - 1)
    ],
    gridW:: w,
    gridH:: h,
  },

  local reduceLast = { calcs: ['lastNotNull'], fields: '', values: false },

  // One number per series, last value.
  stat(title,
       description,
       queries,
       w=4,
       h=5,
       unit='none',
       thresholds=$.thresholds('green'),
       color={ mode: 'thresholds' },
       mappings=null,
       min=null,
       max=null,
       noValue=null,
       colorMode='value')::
    panel('stat', title, description, queries, w, h) {
      fieldConfig: {
        defaults: { unit: unit, thresholds: thresholds, color: color }
                  + (if mappings != null then { mappings: mappings } else {})
                  + (if min != null then { min: min } else {})
                  + (if max != null then { max: max } else {})
                  + (if noValue != null then { noValue: noValue } else {}),
        overrides: [],
      },
      options: {
        reduceOptions: reduceLast,
        colorMode: colorMode,
        graphMode: 'none',
        justifyMode: 'auto',
        orientation: 'auto',
        textMode: 'value_and_name',
        wideLayout: true,
        showPercentChange: false,
      },
    },

  // Lines over time, stepped, with a table legend sorted by the last value. `thresholdsStyle`
  // 'line+area' draws the thresholds; `stacked` stacks the series; `bars` draws bars.
  timeseries(title,
             description,
             queries,
             w=12,
             h=8,
             unit='none',
             min=0,
             max=null,
             thresholds=$.thresholds('green'),
             thresholdsStyle='off',
             stacked=false,
             bars=false,
             overrides=[])::
    panel('timeseries', title, description, queries, w, h) {
      fieldConfig: {
        defaults: {
                    unit: unit,
                    thresholds: thresholds,
                    color: { mode: 'palette-classic' },
                    custom: {
                      drawStyle: if bars then 'bars' else 'line',
                      lineInterpolation: 'stepAfter',
                      lineWidth: 1,
                      fillOpacity: 10,
                      showPoints: 'never',
                      spanNulls: false,
                      stacking: { mode: if stacked then 'normal' else 'none', group: 'A' },
                      axisPlacement: 'auto',
                      thresholdsStyle: { mode: thresholdsStyle },
                    },
                  }
                  + (if min != null then { min: min } else {})
                  + (if max != null then { max: max } else {}),
        overrides: overrides,
      },
      options: {
        legend: {
          showLegend: true,
          displayMode: 'table',
          placement: 'right',
          calcs: ['lastNotNull'],
          sortBy: 'Last *',
          sortDesc: true,
        },
        tooltip: { mode: 'multi', sort: 'desc' },
      },
    },

  // Horizontal bars, one per series, last value.
  bargauge(title,
           description,
           queries,
           w=12,
           h=8,
           unit='none',
           min=0,
           max=null,
           thresholds=$.thresholds('green'),
           color={ mode: 'thresholds' },
           mappings=null)::
    panel('bargauge', title, description, queries, w, h) {
      fieldConfig: {
        defaults: { unit: unit, thresholds: thresholds, color: color, min: min }
                  + (if mappings != null then { mappings: mappings } else {})
                  + (if max != null then { max: max } else {}),
        overrides: [],
      },
      options: {
        reduceOptions: reduceLast,
        displayMode: 'gradient',
        orientation: 'horizontal',
        showUnfilled: true,
        valueMode: 'color',
        namePlacement: 'auto',
        sizing: 'auto',
        minVizHeight: 16,
        minVizWidth: 8,
        maxVizHeight: 300,
      },
    },

  // States over time, one row per series.
  stateTimeline(title,
                description,
                queries,
                w=12,
                h=8,
                thresholds=$.thresholds('green'),
                mappings=null)::
    panel('state-timeline', title, description, queries, w, h) {
      fieldConfig: {
        defaults: {
                    unit: 'none',
                    thresholds: thresholds,
                    color: { mode: 'thresholds' },
                    custom: { fillOpacity: 80, lineWidth: 0 },
                  }
                  + (if mappings != null then { mappings: mappings } else {}),
        overrides: [],
      },
      options: {
        mergeValues: true,
        showValue: 'never',
        alignValue: 'left',
        rowHeight: 0.9,
        legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
        tooltip: { mode: 'single', sort: 'none' },
      },
    },

  // Table queries merged into one row per label set. `values` names the value column of each
  // query (`Value #A` is the first query's), `columns` orders the columns, `hide` hides more
  // than the time, the metric name and the target labels, `rename` renames label columns.
  // `sortDesc` sorts by a column, largest first; `limit` keeps the first rows.
  table(title,
        description,
        queries,
        w=24,
        h=8,
        values=[],
        columns=[],
        hide=[],
        rename={},
        overrides=[],
        sortDesc=null,
        limit=null)::
    panel('table', title, description, queries, w, h) {
      fieldConfig: {
        defaults: {
          unit: 'none',
          thresholds: $.thresholds('green'),
          color: { mode: 'thresholds' },
          custom: {
            align: 'auto',
            cellOptions: { type: 'auto' },
            inspect: false,
            filterable: true,
          },
        },
        overrides: overrides,
      },
      options: {
                 showHeader: true,
                 cellHeight: 'sm',
                 footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
               }
               + (if sortDesc != null then { sortBy: [{ displayName: sortDesc, desc: true }] } else {}),
      transformations: [
                         { id: 'merge', options: {} },
                         {
                           id: 'organize',
                           options: {
                             excludeByName: {
                               [k]: true
                               for k in ['Time', '__name__', 'instance', 'job'] + hide
                             },
                             indexByName: {
                               [columns[i]]: i
                               for i in std.range(0, std.length(columns) - 1)
                             },
                             renameByName: {
                               ['Value #' + std.char(std.codepoint('A') + i)]: values[i]
                               for i in std.range(0, std.length(values) - 1)
                               if values[i] != null
                             } + rename,
                           },
                         },
                       ]
                       + (if sortDesc != null then [{
                            id: 'sortBy',
                            options: { fields: {}, sort: [{ field: sortDesc, desc: true }] },
                          }] else [])
                       + (if limit != null then [{ id: 'limit', options: { limitField: limit } }] else []),
    },

  // A row heading. A collapsed row holds the lines of panels it hides.
  row(title, collapsed=false, lines=[]):: {
    type: 'row',
    title: title,
    collapsed: collapsed,
    gridW:: 24,
    gridH:: 1,
    lines:: lines,
  },

  // ---- Layout and dashboard ------------------------------------------------------------------

  // The panels of `lines` (lists of panels) with their gridPos and ids.
  layout(lines):: $.place(lines, 0, 1).panels,

  // { panels, id }: the panels of `lines` placed from row `y` down and numbered from `id` on,
  // and the next free id. A collapsed row's own lines start under it and take no room among
  // the rest.
  place(lines, y, id)::
    local placeLine(state, line) =
      local xs = std.foldl(function(acc, p) acc + [acc[std.length(acc) - 1] + p.gridW], line, [0]);
      local placed = std.foldl(
        function(acc, i)
          local p = line[i];
          local nested = if p.type == 'row' && p.collapsed
          then $.place(p.lines, state.y + 1, acc.id + 1)
          else { panels: [], id: acc.id + 1 };
          {
            panels: acc.panels + [p {
              id: acc.id,
              gridPos: { x: xs[i], y: state.y, w: p.gridW, h: p.gridH },
            } + (if p.type == 'row' then { panels: nested.panels } else {})],
            id: nested.id,
          },
        std.range(0, std.length(line) - 1),
        { panels: [], id: state.id }
      );
      {
        panels: state.panels + placed.panels,
        id: placed.id,
        y: state.y + std.foldl(std.max, [p.gridH for p in line], 0),
      };
    local out = std.foldl(placeLine, lines, { panels: [], id: id, y: y });
    { panels: out.panels, id: out.id },

  // The `datasource` variable and the multi-valued `system`, `source` and `device` ones (each
  // narrowed by those before it), from series of the targets `selector` matches.
  variables(selector):: [
    {
      name: 'datasource',
      label: 'Data source',
      type: 'datasource',
      query: 'prometheus',
      current: {},
      hide: 0,
      includeAll: false,
      multi: false,
      options: [],
      refresh: 1,
      regex: '',
      skipUrlSync: false,
    },
  ] + [
    {
      name: v[0],
      label: v[1],
      type: 'query',
      datasource: $.datasource,
      definition: v[2],
      query: v[2],
      refresh: 2,
      regex: '',
      sort: 1,
      includeAll: true,
      multi: true,
      allValue: '.*',
      current: { selected: true, text: ['All'], value: ['$__all'] },
      options: [],
      hide: 0,
      skipUrlSync: false,
    }
    for v in [
      ['system', 'System', 'label_values(backup_exporter_source_up%s, system)' % selector([])],
      ['source', 'Source', 'label_values(backup_exporter_source_up%s, source)' % selector(['system=~"$system"'])],
      ['device', 'Device', 'label_values(backup_device_info%s, device)' % selector(['system=~"$system"', 'source=~"$source"'])],
    ]
  ],

  // A dashboard of the mixin: tagged, linked to the others by their common tag, with the
  // variables above. `selector(matchers)` writes a label selector scoped to the exporter.
  dashboard(config, selector, uid, title, description, lines, time='now-24h'):: {
    uid: config.dashboardUIDPrefix + uid,
    title: title,
    description: description,
    tags: config.dashboardExtraTags + [config.dashboardTag],
    id: null,
    editable: true,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    refresh: config.dashboardRefresh,
    schemaVersion: 39,
    time: { from: time, to: 'now' },
    timepicker: {},
    timezone: '',
    version: 1,
    weekStart: '',
    annotations: { list: [] },
    links: [
      {
        title: 'Backup dashboards',
        type: 'dashboards',
        tags: [config.dashboardTag],
        asDropdown: false,
        includeVars: true,
        keepTime: true,
        icon: 'external link',
        targetBlank: false,
        tooltip: '',
        url: '',
      },
    ],
    templating: { list: $.variables(selector) },
    panels: $.layout(lines),
  },
}
