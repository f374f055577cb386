// Backups / Storage: where the backups go.
local utils = import '../lib/utils.libsonnet';
local g = import 'lib.libsonnet';

{
  grafanaDashboards+:: {
    local cfg = $._config,
    local q = (import 'queries.libsonnet')(cfg),

    // The BackupStoreFillingUp threshold, as a ratio and in words.
    local fillRatio = cfg.storeFreeRatioThreshold,
    local fillPercent = '%s %%' % utils.num(fillRatio * 100),
    local fullWithin = utils.num(cfg.storeFullWithinDays),

    local store = '{{source}} {{mount_point}}',
    local perTarget = '{{system}} {{source}} → {{target}}',
    local daysColours = g.thresholds('red', [[7, 'orange'], [30, 'green']]),
    local top20 = 'topk(20, %s)' % q.perTarget('backup_archive_bytes'),

    'backup-storage.json': g.dashboard(
      cfg,
      q.sel,
      uid='storage',
      title='Backups / Storage',
      description='Where the backups go: CrashPlan PRO mount points and Code42 store points (free space, trend, days until full), Rackspace vault sizes, archive growth (backup_exporter).',
      time='now-7d',
      lines=[
        [g.row('Stores: CrashPlan PRO mount points and Code42 store points')],
        [
          g.table(
            'Stores',
            'Every store: free part (crashplan_mount_point_free_ratio; the BackupStoreFillingUp alert fires under %s), free / used / total bytes, days until full at the trend of the last 6 h (deriv of crashplan_mount_point_free_bytes), enabled, measured write speed (absent until a write speed test ran).' % fillPercent,
            [
              g.tableQuery(q.perStore('crashplan_mount_point_free_ratio')),
              g.tableQuery(q.perStore('crashplan_mount_point_free_bytes')),
              g.tableQuery(q.perStore('crashplan_mount_point_used_bytes')),
              g.tableQuery(q.perStore('crashplan_mount_point_total_bytes')),
              g.tableQuery(q.daysUntilFull),
              g.tableQuery(q.perStore('crashplan_mount_point_enabled')),
              g.tableQuery(q.perStore('crashplan_mount_point_write_bytes_per_second')),
            ],
            h=7,
            values=['Free', 'Free bytes', 'Used', 'Total', 'Days until full', 'Enabled', 'Write speed'],
            columns=['source', 'mount_point', 'mount_point_id', 'Free', 'Free bytes', 'Used', 'Total', 'Days until full', 'Enabled', 'Write speed'],
            overrides=[
              g.byName('Free', [
                g.prop.unit('percentunit'),
                g.prop.thresholds(g.thresholds('red', [[fillRatio, 'orange'], [2 * fillRatio, 'green']])),
                g.prop.cell({ type: 'color-background', mode: 'basic' }),
              ]),
              g.byName('Free bytes', [g.prop.unit('bytes')]),
              g.byName('Used', [g.prop.unit('bytes')]),
              g.byName('Total', [g.prop.unit('bytes')]),
              g.byName('Days until full', [
                g.prop.unit('d'),
                g.prop.cell({ type: 'color-text' }),
                g.prop.mappings(g.farAway(3650, 'not filling up')),
                g.prop.thresholds(daysColours),
              ]),
              g.byName('Enabled', [g.prop.mappings(g.valueText([['0', 'disabled', 'orange'], ['1', 'enabled']]))]),
              g.byName('Write speed', [g.prop.unit('Bps')]),
            ],
          ),
        ],
        [
          g.timeseries(
            'Free space',
            'Free part of each store (crashplan_mount_point_free_ratio); the red area is under the BackupStoreFillingUp threshold of %s.' % fillPercent,
            [g.range(q.perStore('crashplan_mount_point_free_ratio'), store)],
            unit='percentunit',
            max=1,
            thresholds=g.thresholds('red', [[fillRatio, 'transparent']]),
            thresholdsStyle='line+area',
          ),
          g.timeseries(
            'Used and total bytes',
            'Bytes used on each store (crashplan_mount_point_used_bytes) and its size (crashplan_mount_point_total_bytes, dashed).',
            [
              g.range(q.perStore('crashplan_mount_point_used_bytes'), 'used ' + store),
              g.range(q.perStore('crashplan_mount_point_total_bytes'), 'total ' + store),
            ],
            unit='bytes',
            overrides=[g.byRegexp('^total .*', g.dashed)],
          ),
        ],
        [
          g.timeseries(
            'Predicted free bytes in %s days' % fullWithin,
            'predict_linear(crashplan_mount_point_free_bytes[6h], %sd): under zero, the store is predicted full within %s days (the BackupStoreFillingUp alert).' % [fullWithin, fullWithin],
            [g.range('max by (source, mount_point, mount_point_id) (predict_linear(crashplan_mount_point_free_bytes%s[6h], %s * 86400))' % [q.vendor, fullWithin], store)],
            unit='bytes',
            min=null,
            thresholds=g.thresholds('red', [[0, 'transparent']]),
            thresholdsStyle='line+area',
          ),
          g.bargauge(
            'Days until full',
            'Free bytes divided by the rate at which they shrank over the last 6 h. "not filling up": free space is constant or growing.',
            [g.instant('sort(%s)' % q.daysUntilFull, store)],
            unit='d',
            max=60,
            thresholds=daysColours,
            mappings=g.farAway(3650, 'not filling up'),
          ),
        ],
        [g.row('Rackspace vaults')],
        [
          g.bargauge(
            'Vault size per agent',
            "Size of each Rackspace agent's backup vault (rackspace_backup_agent_vault_size_bytes).",
            [g.instant('sort_desc(max by (source, device, device_id) (rackspace_backup_agent_vault_size_bytes%s))' % q.vendor, '{{device}}')],
            unit='bytes',
            color={ mode: 'continuous-BlPu' },
          ),
          g.timeseries(
            'Vault size',
            'Rackspace vault sizes over time (rackspace_backup_agent_vault_size_bytes).',
            [g.range('max by (source, device, device_id) (rackspace_backup_agent_vault_size_bytes%s)' % q.vendor, '{{device}}')],
            unit='bytes',
          ),
        ],
        [g.row('Archives')],
        [
          g.timeseries(
            'Archive bytes per target',
            'Bytes in the archives of the selected devices, summed per system, source and target (backup_archive_bytes).',
            [g.range('sum by (system, source, target) (%s)' % q.perTarget('backup_archive_bytes'), perTarget)],
            unit='bytes',
            stacked=true,
          ),
          g.timeseries(
            'Archive growth per day',
            'Growth of the archives per target, in bytes per day, from the trend of the last hour (deriv of backup_archive_bytes).',
            [g.range('sum by (system, source, target) (max by (%s) (deriv(backup_archive_bytes%s[1h]))) * 86400' % [q.target, q.device], perTarget)],
            unit='bytes',
            min=null,
          ),
        ],
        [
          g.table(
            'Top archives',
            "The 20 largest archives (backup_archive_bytes), their change over the dashboard's time range (delta) and the bytes selected on the device.",
            [
              g.tableQuery(top20),
              g.tableQuery('max by (%s) (delta(backup_archive_bytes%s[$__range])) and on (%s) %s' % [q.target, q.device, q.targetId, top20]),
              g.tableQuery('%s and on (%s) %s' % [q.perTarget('backup_selected_bytes'), q.targetId, top20]),
            ],
            h=9,
            values=['Archive', 'Change in time range', 'Selected'],
            columns=['device', 'target', 'system', 'source', 'Archive', 'Change in time range', 'Selected'],
            hide=['device_id'],
            overrides=[
              g.byName('Archive', [g.prop.unit('bytes')]),
              g.byName('Change in time range', [g.prop.unit('bytes')]),
              g.byName('Selected', [g.prop.unit('bytes')]),
              g.drillDownLink(cfg),
            ],
            sortDesc='Archive',
          ),
        ],
      ],
    ),
  },
}
