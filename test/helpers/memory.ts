/**
 * Memory of this process after full collections, for tests that hold an
 * in-process relay to a memory bound: what is left is what something keeps.
 */
import v8 from 'node:v8'
import vm from 'node:vm'

/** What `process.memoryUsage()` reports after full collections. */
export type MemoryAfterGc = () => NodeJS.MemoryUsage

/** Makes `gc()` available at run time and returns a reader of memory after three full collections. */
export function memoryAfterGc (): MemoryAfterGc {
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void
  return () => {
    for (let i = 0; i < 3; i++) gc()
    return process.memoryUsage()
  }
}
