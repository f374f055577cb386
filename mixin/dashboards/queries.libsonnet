// PromQL the dashboards share, every selector scoped to the exporter's targets
// (backupExporterSelector) and narrowed by the dashboard variables. The backup queries
// aggregate with `max by` over the backup labels, as the alerts do, so an HA pair of
// exporters counts each target once.
local utils = import '../lib/utils.libsonnet';

function(config) {
  // A label selector of the exporter's series: its scope and `matchers`.
  sel(matchers):: utils.selector([config.backupExporterSelector] + matchers),

  local q = self,
  local deviceMatchers = ['system=~"$system"', 'source=~"$source"', 'device=~"$device"'],

  // The series of the selected devices, of the selected sources, and of the selected sources
  // of a vendor's own families (which have no `system` label).
  device:: q.sel(deviceMatchers),
  source:: q.sel(['system=~"$system"', 'source=~"$source"']),
  vendor:: q.sel(['source=~"$source"']),

  // The labels of a target (one device backing up to one destination), and those that
  // identify it.
  target:: 'system, source, device, device_id, target',
  targetId:: 'system, source, device_id, target',

  // `metric` of the selected devices, per target.
  perTarget(metric):: 'max by (%s) (%s%s)' % [q.target, metric, q.device],

  // Seconds since the last successful backup, since the target was first seen, and the
  // target's stale threshold.
  age:: 'max by (%s) (time() - backup_last_success_timestamp_seconds%s)' % [q.target, q.device],
  firstSeenAge:: 'max by (%s) (time() - backup_first_seen_timestamp_seconds%s)' % [q.target, q.device],
  threshold:: q.perTarget('backup_stale_threshold_seconds'),
  lastSuccess:: 'backup_last_success_timestamp_seconds' + q.device,

  // 1 when the target is failing (its last run failed, or the vendor's critical backup alert
  // state: BackupFailing), 0 when the vendor reports another state.
  failing::
    'max by (%s) (backup_last_run_failed%s or max without (state) (backup_alert_state%s) or max without (state) (backup_alert_state%s * 0))'
    % [q.target, q.device, q.sel(deviceMatchers + ['state=~"ALERT|CriticalBackupAlert"']), q.device],

  // Every target the exporter knows of.
  targets::
    'group by (%s) (backup_selected_bytes%s or backup_last_success_timestamp_seconds%s or backup_last_activity_timestamp_seconds%s or backup_alert_state%s)'
    % [q.target, q.device, q.device, q.device, q.device],

  // A 0 per system, for counts that are 0 rather than absent.
  orZero:: ' or 0 * group by (system) (backup_device_info%s)' % q.device,

  // Per system: devices, targets, healthy (not stale, not failing), stale, failing, never
  // backed up (known for longer than the threshold), awaiting their first backup (known for
  // less), not monitored (no threshold).
  devices:: 'count by (system) (group by (system, source, device_id) (backup_device_info%s))' % q.device,
  targetCount:: 'count by (system) (%s)' % q.targets,
  healthy::
    'count by (system) ((%s <= on (%s) %s) unless on (%s) (%s == 1))'
    % [q.age, q.targetId, q.threshold, q.targetId, q.failing] + q.orZero,
  stale:: 'sum by (system) (%s > bool on (%s) %s)' % [q.age, q.targetId, q.threshold] + q.orZero,
  failingCount:: 'sum by (system) (%s)' % q.failing + q.orZero,
  neverBackedUp(op)::
    'sum by (system) ((%s %s bool on (%s) %s) unless on (%s) %s)'
    % [q.firstSeenAge, op, q.targetId, q.threshold, q.targetId, q.lastSuccess] + q.orZero,
  never:: q.neverBackedUp('>'),
  awaiting:: q.neverBackedUp('<='),
  notMonitored::
    'count by (system) (%s unless on (%s) %s)' % [q.targets, q.targetId, q.threshold] + q.orZero,

  // Seconds since the last success, or since first seen for a target that never had one.
  ageOrFirstSeen::
    '%s or (%s unless on (%s) %s)' % [q.age, q.firstSeenAge, q.targetId, q.lastSuccess],

  // A store's days until full at the trend of the last 6 h (3650: not filling up).
  daysUntilFull::
    local store = 'source, mount_point, mount_point_id';
    'clamp_max(max by (%s) (crashplan_mount_point_free_bytes%s) / clamp_min(-max by (%s) (deriv(crashplan_mount_point_free_bytes%s[6h])), 0) / 86400, 3650)'
    % [store, q.vendor, store, q.vendor],

  // `metric` of the selected stores, per store.
  perStore(metric):: 'max by (source, mount_point, mount_point_id) (%s%s)' % [metric, q.vendor],
}
