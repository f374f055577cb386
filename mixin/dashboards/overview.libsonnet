// Backups / Fleet overview: is every device backed up?
local g = import 'lib.libsonnet';

{
  grafanaDashboards+:: {
    local cfg = $._config,
    local q = (import 'queries.libsonnet')(cfg),

    local targetsNote = " A target is one device backing up to one destination (CrashPlan/Code42 destination, Rackspace backup configuration). Thresholds come from backup_stale_threshold_seconds (per source and device pattern in the exporter's configuration); targets without one are not expected to back up.",
    local perSystem(expr) = g.range(expr, '{{system}}'),
    local failingMap = g.valueText([['0', 'no'], ['1', 'FAILING', 'red']]),
    local colouredCount(name, colour) = g.byName(name, [
      g.prop.cell({ type: 'color-text' }),
      g.prop.thresholds(g.thresholds('green', [[1, colour]])),
    ]),
    local fixed(name, colour) = g.byName(name, [g.prop.color(g.fixedColor(colour))]),
    local unhealthyColours = [fixed('stale', 'red'), fixed('failing', 'orange'), fixed('never backed up', 'purple')],

    'backup-overview.json': g.dashboard(
      cfg,
      q.sel,
      uid='overview',
      title='Backups / Fleet overview',
      description='Is every device backed up? Per backup system: healthy, stale, failing and never-backed-up targets, the worst offenders and the firing alerts (backup_exporter).',
      time='now-24h',
      lines=[
        [
          g.stat('Devices',
                 'Devices known to each system (backup_device_info).',
                 [perSystem(q.devices)],
                 color=g.fixedColor('text')),
          g.stat('Healthy targets',
                 'Targets whose last successful backup is younger than their stale threshold and that are not failing.' + targetsNote,
                 [perSystem(q.healthy)],
                 color=g.fixedColor('green')),
          g.stat('Stale targets',
                 'Targets whose last successful backup is older than their stale threshold (the BackupStale alert).' + targetsNote,
                 [perSystem(q.stale)],
                 thresholds=g.thresholds('green', [[1, 'red']])),
          g.stat('Failing targets',
                 'Targets whose last run failed (backup_last_run_failed) or that the vendor puts in its critical backup alert state (CrashPlan ALERT, Code42 CriticalBackupAlert): the BackupFailing alert.',
                 [perSystem(q.failingCount)],
                 thresholds=g.thresholds('green', [[1, 'orange']])),
          g.stat('Never backed up',
                 'Targets known for longer than their stale threshold (backup_first_seen_timestamp_seconds) without any completed backup (the BackupNeverCompleted alert).' + targetsNote,
                 [perSystem(q.never)],
                 thresholds=g.thresholds('green', [[1, 'orange']])),
          // The alerts carry no `job` (they aggregate it away): not scoped.
          g.stat('Firing alerts',
                 'Backup alerts firing in this Prometheus, by alert name (the ALERTS series of the bundled rules, alerts/backup_exporter.rules.yml). Empty when the rules are not loaded or nothing fires.',
                 [g.range('count by (alertname) (ALERTS{alertstate="firing", alertname=~"Backup.*", system=~"$system", source=~"$source"})', '{{alertname}}')],
                 thresholds=g.thresholds('green', [[1, 'red']]),
                 noValue='0'),
        ],
        [
          g.table(
            'Targets by state per system',
            'Per backup system: devices, targets and how many targets are healthy, stale, failing, never backed up (known longer than the threshold), awaiting their first backup (known for less than the threshold), or not monitored (no threshold: the vendor says the target is not in use, or the configuration switches it off). Stale and failing can overlap.' + targetsNote,
            [g.tableQuery(e) for e in [q.devices, q.targetCount, q.healthy, q.stale, q.failingCount, q.never, q.awaiting, q.notMonitored]],
            h=5,
            values=['Devices', 'Targets', 'Healthy', 'Stale', 'Failing', 'Never backed up', 'Awaiting first backup', 'Not monitored'],
            columns=['system', 'Devices', 'Targets', 'Healthy', 'Stale', 'Failing', 'Never backed up', 'Awaiting first backup', 'Not monitored'],
            overrides=[colouredCount('Stale', 'red'), colouredCount('Failing', 'orange'), colouredCount('Never backed up', 'orange')],
          ),
        ],
        [
          g.table(
            'Worst offenders',
            "Every target, the longest without a successful backup first (top 100). Age: time since the last successful backup, or since the target was first seen when it never completed one (Last success empty). Age / threshold over 100 % is stale. Failing: the last run failed or the vendor's critical backup alert. Click a device for its drill-down.",
            [
              g.tableQuery(q.ageOrFirstSeen),
              g.tableQuery(q.threshold),
              g.tableQuery('(%s) / on (%s) group_left %s' % [q.ageOrFirstSeen, q.targetId, q.threshold]),
              g.tableQuery(q.perTarget('backup_last_success_timestamp_seconds') + ' * 1000'),
              g.tableQuery(q.failing),
            ],
            h=12,
            values=['Age', 'Threshold', 'Age / threshold', 'Last success', 'Failing'],
            columns=['device', 'target', 'system', 'source', 'Age', 'Threshold', 'Age / threshold', 'Last success', 'Failing'],
            hide=['device_id'],
            overrides=[
              g.byName('Age', [g.prop.unit('s')]),
              g.byName('Threshold', [g.prop.unit('s')]),
              g.byName('Age / threshold', [
                g.prop.unit('percentunit'),
                g.prop.thresholds(g.thresholds('green', [[0.8, 'orange'], [1, 'red']])),
                g.prop.cell({ type: 'color-background', mode: 'basic' }),
              ]),
              g.byName('Last success', [g.prop.unit('dateTimeAsIso')]),
              g.byName('Failing', [g.prop.mappings(failingMap), g.prop.cell({ type: 'color-text' })]),
              g.drillDownLink(cfg),
            ],
            sortDesc='Age',
            limit=100,
          ),
        ],
        [
          g.timeseries(
            'Unhealthy targets over time',
            'Stale, failing and never-backed-up targets over the time range (all selected systems).' + targetsNote,
            [
              g.range('sum(%s)' % q.stale, 'stale'),
              g.range('sum(%s)' % q.failingCount, 'failing'),
              g.range('sum(%s)' % q.never, 'never backed up'),
            ],
            overrides=unhealthyColours,
          ),
          g.timeseries(
            'Targets by vendor alert state',
            'Targets in each vendor alert state (backup_alert_state; CrashPlan PRO: OK/WARN/ALERT; Code42: OK, Warning/Critical Backup/Connection alerts). Rackspace has no alert states.',
            [g.range('sum by (system, state) (max by (%s, state) (backup_alert_state%s))' % [q.target, q.device], '{{system}} {{state}}')],
          ),
        ],
        [g.row('OpenStack Freezer jobs')],
        [
          g.timeseries(
            'Freezer jobs by last result',
            'Jobs of the Freezer sources by the result of their last run (freezer_job_last_result). A job that never ran has no result; a running job none yet.',
            [g.range('sum by (result) (freezer_job_last_result%s == 1)' % q.vendor, '{{result}}')],
            w=8,
            overrides=unhealthyColours,
          ),
          g.table(
            'Freezer jobs whose last run did not succeed',
            "Jobs whose last run failed or was aborted, with how long since their last success (their last successful run's end, else their newest available backup). Empty is good.",
            local failed = 'max by (source, project_id, job_id, result) (freezer_job_last_result%s == 1)' % q.sel(['source=~"$source"', 'result!="success"']);
            [
              g.tableQuery('max by (source, project_id, job_id, device, device_id, result) (freezer_job_last_result%s == 1)' % q.sel(['source=~"$source"', 'result!="success"'])),
              g.tableQuery('max by (source, project_id, job_id, device, device_id) (time() - freezer_job_last_success_timestamp_seconds%s) * on (source, project_id, job_id) group_left (result) %s' % [q.vendor, failed]),
            ],
            w=16,
            values=[null, 'Since last success'],
            columns=['device', 'job_id', 'result', 'Value #B', 'project_id', 'source', 'device_id'],
            hide=['Value #A'],
            rename={ job_id: 'Job', result: 'Last result', project_id: 'Project', device: 'Host', device_id: 'Client' },
            overrides=[g.byName('Since last success', [g.prop.unit('s')])],
            sortDesc='Since last success',
          ),
        ],
      ],
    ),
  },
}
