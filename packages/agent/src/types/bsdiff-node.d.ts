/** bsdiff-node 2.5.0 ships no types: the part the agent uses (applying a BSDIFF40 patch). */
declare module 'bsdiff-node' {
  type Progress = (percent: number, err?: unknown) => void;
  const bsdiff: {
    /** Writes `newFile` = `oldFile` patched with `patchFile`; rejects with a message when it cannot. */
    patch(oldFile: string, newFile: string, patchFile: string, onProgress?: Progress): Promise<void>;
    diff(oldFile: string, newFile: string, patchFile: string, onProgress?: Progress): Promise<void>;
  };
  export default bsdiff;
}
