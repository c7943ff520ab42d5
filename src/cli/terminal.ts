/**
 * The terminal a command talks to: results on stdout, progress, prompts and
 * warnings on stderr (so `tufbox key generate … > keyid.txt` stays clean),
 * questions from stdin. Commands take a Terminal so tests can script the
 * answers; `processTerminal()` is the real one.
 */
import { createInterface } from "node:readline";
import { UsageError } from "./args.ts";

export interface Terminal {
  /** stdin and stderr are terminals: prompts and confirmations are possible */
  readonly interactive: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** a result line (stdout) */
  out(text: string): void;
  /** progress, summaries, warnings (stderr) */
  info(text: string): void;
  /** a question; an empty answer gives `defaultAnswer` */
  ask(question: string, defaultAnswer?: string): Promise<string>;
  /** a question whose answer is not echoed (passphrases) */
  askSecret(question: string): Promise<string>;
}

function cancelled(): UsageError {
  return new UsageError("cancelled", "nothing was written; run the command again when ready");
}

function readLine(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    let answered = false;
    rl.on("SIGINT", () => {
      rl.close();
      reject(cancelled());
    });
    rl.on("close", () => {
      if (!answered) reject(cancelled());
    });
    rl.question(question, (answer) => {
      answered = true;
      rl.close();
      resolve(answer);
    });
  });
}

/** Read a line with echo off (raw mode), handling backspace, Ctrl-C and Ctrl-D. */
function readHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let text = "";
    const finish = (err?: UsageError) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") return finish();
        if (ch === "\u0003") return finish(cancelled());
        if (ch === "\u007f" || ch === "\b") text = Array.from(text).slice(0, -1).join("");
        else if (ch >= " ") text += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on("data", onData);
  });
}

export function processTerminal(): Terminal {
  return {
    interactive: process.stdin.isTTY === true && process.stderr.isTTY === true,
    env: process.env,
    out: (text) => void process.stdout.write(`${text}\n`),
    info: (text) => void process.stderr.write(`${text}\n`),
    ask: async (question, defaultAnswer) => {
      const answer = (
        await readLine(
          defaultAnswer !== undefined && defaultAnswer !== "" ? `${question} [${defaultAnswer}]: ` : `${question}: `,
        )
      ).trim();
      return answer === "" ? (defaultAnswer ?? "") : answer;
    },
    askSecret: (question) => readHidden(`${question}: `),
  };
}

/** y/yes → true; anything else → false (the safe answer). */
export async function confirm(term: Terminal, question: string): Promise<boolean> {
  const answer = (await term.ask(`${question} [y/N]`, "")).trim().toLowerCase();
  return answer === "y" || answer === "yes";
}
