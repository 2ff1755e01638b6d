import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { CLASSIFICATIONS, CUSTOM_FIELD_TYPES, RECORD_TYPES } from '../../data/field-registry.js';
import type { DataDeps } from '../../data/record-store.js';
import { actorOf } from '../../http/authenticate.js';
import { IdParams } from '../../http/record-schemas.js';
import { errorResponses } from '../../http/schemas.js';
import {
  MAX_OPTIONS,
  createCustomField,
  deleteCustomField,
  getCustomField,
  listCustomFields,
  updateCustomField,
  type CustomFieldChanges,
  type NewCustomField,
} from './custom-fields.service.js';

const CustomFieldSchema = Type.Object(
  {
    id: Type.String({ description: 'Custom field id.' }),
    recordType: Type.String({ enum: [...RECORD_TYPES], description: 'The record type that holds the field.' }),
    key: Type.String({ description: 'The key in a record\'s customFields and in `?custom.<key>=` filters.' }),
    label: Type.String({ description: 'What forms and exports call the field.' }),
    type: Type.String({ enum: [...CUSTOM_FIELD_TYPES], description: 'The kind of value.' }),
    classification: Type.String({ enum: [...CLASSIFICATIONS], description: 'How sensitive the values are; decides masking and encryption.' }),
    options: Type.Array(Type.String(), { description: 'The choices of a select or multiselect field.' }),
    required: Type.Boolean({ description: 'Whether new records must give a value.' }),
    position: Type.Integer({ description: 'Order in forms, lowest first.' }),
    version: Type.Integer({ description: 'Optimistic-concurrency version; send it back with an update.' }),
    createdAt: Type.String({ description: 'When the field was defined.' }),
    updatedAt: Type.String({ description: 'When the definition last changed.' }),
  },
  { $id: 'CustomField', additionalProperties: false },
);

const optionsInput = Type.Array(Type.String({ maxLength: 100 }), { maxItems: MAX_OPTIONS, description: `Choices of a select or multiselect field: 1 to ${MAX_OPTIONS}, unique.` });
const positionInput = Type.Integer({ minimum: 0, maximum: 100_000, description: 'Order in forms, lowest first; after the last field by default.' });

/** `/api/v1/custom-fields`: anyone signed in reads the definitions; administrators change them. */
export function registerCustomFieldRoutes(app: FastifyInstance, deps: DataDeps): void {
  const tags = ['custom-fields'];

  app.get('/api/v1/custom-fields', {
    schema: {
      tags,
      summary: 'List custom field definitions',
      querystring: Type.Object({ recordType: Type.Optional(Type.String({ enum: [...RECORD_TYPES], description: 'Only the fields of this record type.' })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(CustomFieldSchema), nextCursor: Type.Null() }), ...errorResponses },
    },
    handler: async (request) => ({ items: await listCustomFields(deps, actorOf(request), (request.query as { recordType?: string }).recordType), nextCursor: null }),
  });

  app.post('/api/v1/custom-fields', {
    schema: {
      tags,
      summary: 'Define a custom field (administrators)',
      body: Type.Object(
        {
          recordType: Type.String({ enum: [...RECORD_TYPES], description: 'The record type that will hold the field.' }),
          key: Type.String({ maxLength: 64, description: 'Starts with a lower-case letter; letters, digits and underscores; not a built-in field\'s name.' }),
          label: Type.String({ maxLength: 100, description: 'What forms and exports call the field.' }),
          type: Type.String({ enum: [...CUSTOM_FIELD_TYPES], description: 'The kind of value; fixed once defined.' }),
          classification: Type.String({ enum: [...CLASSIFICATIONS], description: 'How sensitive the values are; fixed once defined.' }),
          options: Type.Optional(optionsInput),
          required: Type.Optional(Type.Boolean({ description: 'Whether new records must give a value.' })),
          position: Type.Optional(positionInput),
        },
        { additionalProperties: false },
      ),
      response: { 201: CustomFieldSchema, ...errorResponses },
    },
    handler: async (request, reply) => reply.status(201).send(await createCustomField(deps, actorOf(request), request.body as NewCustomField)),
  });

  app.get('/api/v1/custom-fields/:id', {
    schema: { tags, summary: 'Read a custom field definition', params: IdParams, response: { 200: CustomFieldSchema, ...errorResponses } },
    handler: async (request) => getCustomField(deps, actorOf(request), (request.params as { id: string }).id),
  });

  app.patch('/api/v1/custom-fields/:id', {
    schema: {
      tags,
      summary: 'Change a custom field\'s label, options, required flag or position (administrators)',
      params: IdParams,
      body: Type.Object(
        {
          version: Type.Integer({ minimum: 1, description: 'The version you read; a stale version answers 409.' }),
          label: Type.Optional(Type.String({ maxLength: 100, description: 'New label.' })),
          options: Type.Optional(optionsInput),
          required: Type.Optional(Type.Boolean({ description: 'Whether new records must give a value.' })),
          position: Type.Optional(positionInput),
        },
        { additionalProperties: false },
      ),
      response: { 200: CustomFieldSchema, ...errorResponses },
    },
    handler: async (request) => {
      const { version, ...changes } = request.body as { version: number } & CustomFieldChanges;
      return updateCustomField(deps, actorOf(request), (request.params as { id: string }).id, version, changes);
    },
  });

  app.delete('/api/v1/custom-fields/:id', {
    schema: { tags, summary: 'Delete a custom field and every value records hold in it (administrators)', params: IdParams, response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      await deleteCustomField(deps, actorOf(request), (request.params as { id: string }).id);
      return reply.status(204).send();
    },
  });
}
