/** One property of the panel: its label, and the server's errors about it shown at it. */
import { Form } from "antd";
import type { ReactNode } from "react";

export type IssuesAt = (property: string) => string[];

export default function PropItem({ label, property, issuesAt, extra, children, testId }: {
  label: ReactNode;
  /** The property (or properties) whose server errors show here. */
  property: string | string[];
  issuesAt: IssuesAt;
  extra?: ReactNode;
  children: ReactNode;
  testId?: string;
}) {
  const messages = (Array.isArray(property) ? property : [property]).flatMap(issuesAt);
  return (
    <Form.Item
      label={label}
      extra={extra}
      validateStatus={messages.length ? "error" : undefined}
      help={messages.length ? <span data-testid={testId ? `${testId}-error` : undefined}>{messages.join("; ")}</span> : undefined}
      style={{ marginBottom: 12 }}
    >
      {children}
    </Form.Item>
  );
}
