/** bsdiff-node 2.5.0 ships no types: the synchronous calls Hangar uses (in a worker thread). */
declare module 'bsdiff-node' {
  export function diffSync(oldFile: string, newFile: string, patchFile: string): void;
  export function patchSync(oldFile: string, newFile: string, patchFile: string): void;
}
