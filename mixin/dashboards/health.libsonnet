// Backups / Exporter health: is backup_exporter itself healthy?
local utils = import '../lib/utils.libsonnet';
local g = import 'lib.libsonnet';

{
  grafanaDashboards+:: {
    local cfg = $._config,
    local q = (import 'queries.libsonnet')(cfg),

    // The BackupExporterRefreshStale threshold.
    local staleSeconds = cfg.refreshStaleHours * 3600,
    local staleText = '%s h' % utils.num(cfg.refreshStaleHours),

    local upDown = g.valueText([['0', 'DOWN', 'red'], ['1', 'UP', 'green']]),
    local perInstance = '{{source}} @ {{instance}}',
    local upstream = 'backup_exporter_upstream_requests_total',
    // Per source and `by` labels while any occur, else one line per source labelled by
    // `others`: `expr` is an increase or rate of a counter, `by` its label.
    local withTotal(sum, by, others) =
      '%s > 0 or label_replace(%s, "%s", "%s", "", "")' % [sum('source, ' + by), sum('source'), by, others],
    local increase(metric) = function(by) 'sum by (%s) (increase(%s%s[$__rate_interval]))' % [by, metric, q.source],
    // The exporter's own series: of its targets, whatever their sources.
    local buildInfo = 'backup_exporter_build_info' + q.sel([]),

    'backup-exporter-health.json': g.dashboard(
      cfg,
      q.sel,
      uid='health',
      title='Backups / Exporter health',
      description='Is backup_exporter itself healthy? Sources up, refresh duration and age, refresh and item errors by reason, upstream requests by endpoint and code, stale items, samples.',
      time='now-6h',
      lines=[
        [g.row('Sources')],
        [
          g.stat('Sources up',
                 'backup_exporter_source_up: 1 when the last refresh of the source succeeded. A source that is down keeps serving its last good data.',
                 [g.instant('min by (system, source) (backup_exporter_source_up%s)' % q.source, '{{source}}')],
                 w=6,
                 thresholds=g.thresholds('red', [[1, 'green']]),
                 mappings=upDown,
                 colorMode='background'),
          g.stat('Since last successful refresh',
                 'time() - backup_exporter_last_refresh_success_timestamp_seconds: every backup metric of the source is at least this old (BackupExporterRefreshStale above %s).' % staleText,
                 [g.instant('max by (system, source) (time() - backup_exporter_last_refresh_success_timestamp_seconds%s)' % q.source, '{{source}}')],
                 w=6,
                 unit='s',
                 thresholds=g.thresholds('green', [[3600, 'orange'], [staleSeconds, 'red']])),
          g.stat('Stale items',
                 'Items (agents, reports) of the last successful refresh served from their last known values because reading them failed (backup_exporter_source_stale_items).',
                 [g.instant('max by (system, source) (backup_exporter_source_stale_items%s)' % q.source, '{{source}}')],
                 w=6,
                 thresholds=g.thresholds('green', [[1, 'orange']])),
          g.stat('Samples',
                 'Samples of data families each source contributes to /metrics (backup_exporter_source_samples; cardinality watch).',
                 [g.instant('max by (system, source) (backup_exporter_source_samples%s)' % q.source, '{{source}}')],
                 w=6,
                 color=g.fixedColor('text')),
        ],
        [
          g.stateTimeline(
            'Source up over time',
            'backup_exporter_source_up of each exporter instance and source.',
            [g.range('backup_exporter_source_up' + q.source, perInstance)],
            thresholds=g.thresholds('red', [[1, 'green']]),
            mappings=upDown,
          ),
          g.timeseries(
            'Refresh duration',
            'Wall time of the last refresh of each source (backup_exporter_refresh_duration_seconds).',
            [g.range('backup_exporter_refresh_duration_seconds' + q.source, perInstance)],
            unit='s',
          ),
        ],
        [
          g.timeseries(
            'Since last successful refresh',
            "Age of each source's data (time() - backup_exporter_last_refresh_success_timestamp_seconds); red above the BackupExporterRefreshStale threshold of %s." % staleText,
            [g.range('time() - backup_exporter_last_refresh_success_timestamp_seconds' + q.source, perInstance)],
            unit='s',
            thresholds=g.thresholds('transparent', [[staleSeconds, 'red']]),
            thresholdsStyle='line+area',
          ),
          g.timeseries(
            'Samples per source',
            'backup_exporter_source_samples over time: a jump means new devices or targets, or a label that changes too often.',
            [g.range('backup_exporter_source_samples' + q.source, perInstance)],
            unit='short',
          ),
        ],
        [g.row('Errors')],
        [
          g.timeseries(
            'Refresh errors by reason',
            'Failed refreshes per interval (increase of backup_exporter_refresh_errors_total): one line per source for all reasons, and one per reason while it occurs (timeout, connect, unauthorized, server_error, parse, ...).',
            [g.range(withTotal(increase('backup_exporter_refresh_errors_total'), 'reason', 'all reasons'), '{{source}}: {{reason}}')],
            unit='short',
            bars=true,
          ),
          g.timeseries(
            'Item errors by reason',
            "Single items (an agent's details, a report) that failed in an otherwise successful refresh (increase of backup_exporter_item_errors_total); they keep their last known values.",
            [g.range(withTotal(increase('backup_exporter_item_errors_total'), 'reason', 'all reasons'), '{{source}}: {{reason}}')],
            unit='short',
            bars=true,
          ),
        ],
        [
          g.timeseries(
            'Stale items',
            'Items served from their last known values (backup_exporter_source_stale_items).',
            [g.range('backup_exporter_source_stale_items' + q.source, perInstance)],
            unit='short',
          ),
          g.timeseries(
            'Failed upstream requests',
            'Requests to the vendor APIs per second that did not answer 2xx (a status code, or "timeout" / "error"): one line per source for all endpoints ("all non-2xx"), and one per endpoint and code while they occur.',
            local failed = q.sel(['system=~"$system"', 'source=~"$source"', 'code!~"2.."']);
            local rate(by, sel) = 'sum by (%s) (rate(%s%s[$__rate_interval]))' % [by, upstream, sel];
            [g.range(
              '%s > 0 or label_replace(label_replace(%s or 0 * %s, "endpoint", "all", "", ""), "code", "non-2xx", "", "")'
              % [rate('source, endpoint, code', failed), rate('source', failed), rate('source', q.source)],
              '{{source}} {{endpoint}} {{code}}'
            )],
            unit='reqps',
          ),
        ],
        [g.row('Upstream requests')],
        [
          g.timeseries(
            'Upstream requests by endpoint',
            'Requests per second to the vendor APIs (backup_exporter_upstream_requests_total), per source and endpoint.',
            [g.range('sum by (source, endpoint) (rate(%s%s[$__rate_interval]))' % [upstream, q.source], '{{source}} {{endpoint}}')],
            unit='reqps',
            stacked=true,
          ),
          g.timeseries(
            'Upstream responses by code',
            'Requests per second by HTTP status code ("timeout" / "error" when none came back).',
            [g.range('sum by (source, code) (rate(%s%s[$__rate_interval]))' % [upstream, q.source], '{{source}} {{code}}')],
            unit='reqps',
            stacked=true,
          ),
        ],
        [
          g.table(
            'Upstream requests in the time range',
            "Requests to each endpoint in the dashboard's time range, by status code.",
            [g.tableQuery('sum by (system, source, endpoint, code) (increase(%s%s[$__range]))' % [upstream, q.source])],
            values=['Requests'],
            columns=['system', 'source', 'endpoint', 'code', 'Requests'],
            overrides=[g.byName('Requests', [g.prop.decimals(0)])],
            sortDesc='Requests',
          ),
        ],
        [g.row('Exporter processes', collapsed=true, lines=[[
          g.table(
            'Exporter builds',
            'Every scraped exporter process and its build (backup_exporter_build_info).',
            [g.tableQuery(buildInfo)],
            w=8,
            hide=['Value'],
          ),
          g.timeseries(
            'Scrape duration',
            'How long Prometheus takes to scrape each exporter (scrape_duration_seconds).',
            [g.range('scrape_duration_seconds%s and on (instance, job) %s' % [q.sel([]), buildInfo], '{{instance}}')],
            w=8,
            unit='s',
          ),
          g.timeseries(
            'Samples scraped',
            'Samples per scrape of each exporter (scrape_samples_scraped).',
            [g.range('scrape_samples_scraped%s and on (instance, job) %s' % [q.sel([]), buildInfo], '{{instance}}')],
            w=8,
            unit='short',
          ),
        ]])],
      ],
    ),
  },
}
