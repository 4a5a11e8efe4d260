// Program files: download and upload a workspace, download the Python export.

export const FILE_FORMAT = 'mikrodojo-blockly';
export const FILE_VERSION = 1;

/** The text of a program file: the workspace JSON with a small label saying what it is. */
export function programFile(workspaceJson) {
  return JSON.stringify({ format: FILE_FORMAT, version: FILE_VERSION, program: workspaceJson }, null, 2);
}

/** A workspace JSON from a file's text: our file, or a bare Blockly workspace save. */
export function programFromFile(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error('this is not a program file (it is not JSON)');
  }
  if (data && data.format === FILE_FORMAT) data = data.program;
  if (!data || typeof data !== 'object' || !('blocks' in data || 'variables' in data)) {
    throw new Error('this file has no blocks in it');
  }
  return data;
}

export function downloadText(filename, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function readFileText(file) {
  return file.text();
}
