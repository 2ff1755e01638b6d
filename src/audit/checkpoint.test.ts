import { describe, expect, it } from 'vitest';
import { checkpointText, generateSigningKey, NoteError, openNote, parseCheckpoint, parseVerifierKey, signNote, splitNotes } from './checkpoint.js';

// The signed-note example of Go's golang.org/x/mod/sumdb/note, an independent implementation:
// Ed25519 is deterministic, so signing its text with its key must give its note byte for byte.
const GO_SIGNER = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_VERIFIER = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

describe('signed notes and checkpoints', () => {
  it('signs and opens the reference note byte for byte', () => {
    expect(signNote(GO_TEXT, GO_SIGNER)).toBe(GO_NOTE);
    expect(openNote(GO_NOTE, GO_VERIFIER)).toBe(GO_TEXT);
    expect(parseVerifierKey(GO_VERIFIER)).toMatchObject({ name: 'PeterNeumann', id: 0xc74f20a3 });
  });

  it('refuses a changed text, a foreign key, a mangled key and a note without a signature', () => {
    expect(() => openNote(GO_NOTE.replace('answer', 'question'), GO_VERIFIER)).toThrow(NoteError);
    const other = generateSigningKey('PeterNeumann');
    expect(() => openNote(GO_NOTE, other.verifierKey)).toThrow(/no signature by this key/);
    expect(() => parseVerifierKey(GO_VERIFIER.replace('c74f20a3', 'c74f20a4'))).toThrow(NoteError);
    expect(() => parseVerifierKey('PeterNeumann+c74f20a3+AAAA')).toThrow(NoteError);
    expect(() => openNote(GO_TEXT, GO_VERIFIER)).toThrow(NoteError);
    expect(() => signNote('no newline', GO_SIGNER)).toThrow(NoteError);
  });

  it('signs checkpoints with a fresh key that only its verifier key opens', () => {
    const key = generateSigningKey('rampart.example.com/audit');
    const checkpoint = { origin: 'rampart.example.com/audit', size: 1234, rootHash: Buffer.alloc(32, 7), time: '2026-11-29T12:00:00.000Z' };
    const note = signNote(checkpointText(checkpoint), key.signerKey);
    expect(parseCheckpoint(openNote(note, key.verifierKey))).toEqual(checkpoint);
    expect(() => openNote(note.replace('\n1234\n', '\n1235\n'), key.verifierKey)).toThrow(NoteError);
    expect(key.signerKey.startsWith('PRIVATE+KEY+rampart.example.com/audit+')).toBe(true);
    // The secret is everything after PRIVATE+KEY+<name>+<hash>+; being base64, it may hold a '+' itself.
    const secret = key.signerKey.split('+').slice(4).join('+');
    expect(secret.length).toBeGreaterThan(40);
    expect(key.verifierKey).not.toContain(secret);
  });
});

describe('a file of checkpoints', () => {
  it('splits into the notes appended to it, each still opening with its key', () => {
    const key = generateSigningKey('crm.example.com/rampart-audit');
    const notes = [1, 2, 3].map((size) => signNote(checkpointText({ origin: 'crm.example.com/rampart-audit', size, rootHash: Buffer.alloc(32, size), time: '2026-11-29T10:00:00Z' }), key.signerKey));
    const file = notes.map((n) => `${n}\n`).join('');
    expect(splitNotes(file)).toEqual(notes);
    expect(splitNotes(file.replace(/\n/g, '\r\n')).map((n) => parseCheckpoint(openNote(n, key.verifierKey)).size)).toEqual([1, 2, 3]);
    expect(splitNotes('')).toEqual([]);
  });
});
