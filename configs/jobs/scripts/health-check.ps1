# Health check (Windows): hostname, uptime, CPU, disk usage of C:, key services.
# Exit 0 = healthy, 1 = C: above DISK_THRESHOLD_PCT, 3 = a required service is down.
param([int]$DISK_THRESHOLD_PCT = 90)
$status = 0

$os = Get-CimInstance Win32_OperatingSystem
"== health check: $env:COMPUTERNAME =="
"OS       : $($os.Caption) (build $($os.BuildNumber))"
"Uptime   : $((Get-Date) - $os.LastBootUpTime)"
"CPU      : $((Get-CimInstance Win32_Processor | Measure-Object LoadPercentage -Average).Average)%"

$disk = Get-CimInstance Win32_LogicalDisk -Filter "DeviceID='C:'"
$used = [math]::Round(100 * ($disk.Size - $disk.FreeSpace) / $disk.Size)
"Disk C:  : $used% used (threshold $DISK_THRESHOLD_PCT%)"
if ($used -ge $DISK_THRESHOLD_PCT) {
    [Console]::Error.WriteLine("ERROR: C: is $used% full (threshold $DISK_THRESHOLD_PCT%)")
    $status = 1
}

foreach ($name in 'WinRM', 'W32Time') {
    $svc = Get-Service -Name $name -ErrorAction SilentlyContinue
    if ($svc -and $svc.Status -eq 'Running') {
        "Service  : $name running"
    } else {
        [Console]::Error.WriteLine("ERROR: $name is not running")
        if ($status -eq 0) { $status = 3 }
    }
}

if ($status -eq 0) { "Status   : OK" }
exit $status
