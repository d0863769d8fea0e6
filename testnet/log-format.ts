const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' }
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'guardian'])

/** Turns one pino JSON line into `prefix | HH:MM:SS LEVEL message key=value…`; other lines pass through. */
export function formatLogLine(prefix: string, line: string): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(line) as Record<string, unknown>
  } catch {
    return `${prefix} | ${line}`
  }
  if (typeof entry !== 'object' || entry === null) return `${prefix} | ${line}`
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 19) : '--:--:--'
  const level = LEVELS[entry.level as number] ?? 'LOG  '
  const fields = Object.entries(entry)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
  return `${prefix} | ${time} ${level} ${String(entry.msg ?? '')}${fields.length > 0 ? `  ${fields.join(' ')}` : ''}`
}
