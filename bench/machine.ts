/**
 * CPU readings from /proc: of one process, of the whole machine, and of the
 * benchmark process itself, so that every figure can be read against what
 * else was running.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** Reads CPU times from /proc, which counts in clock ticks (`getconf CLK_TCK`, usually 100 a second). */
export class CpuMeter {
  private readonly msPerTick: number

  constructor () {
    let ticks = 100
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {}
    this.msPerTick = 1000 / ticks
  }

  /** CPU time a process has used (utime + stime of all its threads: fields 14 and 15 of /proc/<pid>/stat), in ms. */
  processMs (pid: number): number {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * this.msPerTick
  }

  /** CPU time every process of the machine has spent since boot, summed over cores (/proc/stat less idle and iowait), in ms. */
  machineBusyMs (): number {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number)
    const [user, nice, system, , , irq, softirq, steal] = fields
    return (user + nice + system + irq + softirq + steal) * this.msPerTick
  }
}

/** CPU seconds (user + system) the benchmark process has used, all threads included. */
export function generatorCpuSeconds (): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1e6
}
